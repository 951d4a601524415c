"""`bench` on the bundled model's quants: interleaved repetitions, exact token counts, cost, cache."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from edgeapp import refs
from edgeapp.bench.presets import GRANDVILLE, choose_prompt
from edgeapp.bench.runner import BenchSettings, run_bench
from edgeapp.cli.main import main
from edgeapp.errors import UsageError


def test_prompt_choice(tmp_path: Path) -> None:
    assert choose_prompt().name == "grandville" and choose_prompt().text == GRANDVILLE
    assert "Grandville" in GRANDVILLE and GRANDVILLE.endswith("next steps in the investigation.")
    assert choose_prompt(text="Hi").text == "Hi"
    prompt_file = tmp_path / "p.txt"
    prompt_file.write_text("From a file\n")
    assert choose_prompt(file=str(prompt_file)).name == "p.txt"
    with pytest.raises(UsageError, match="only one"):
        choose_prompt(text="a", preset="short")
    with pytest.raises(UsageError, match="unknown prompt preset"):
        choose_prompt(preset="nope")


@pytest.mark.slow
def test_interleaved_repetitions() -> None:
    models = [refs.materialize(refs.resolve(label)) for label in ("default:Q2_K", "default:Q8_0")]
    settings = BenchSettings(
        prompt="Count to ten.", prompt_name="text", n_predict=6, reps=2, warmup=1, n_ctx=256, threads=1
    )
    messages: list[str] = []
    report = run_bench(models, settings, on_progress=messages.append)
    order = [m.split(":", 2)[0] + ":" + m.split(":", 2)[1] for m in messages if "tok/s" in m]
    assert order == [
        "warm-up 1/1 default:Q2_K", "warm-up 1/1 default:Q8_0",
        "rep 1/2 default:Q2_K", "rep 1/2 default:Q8_0",
        "rep 2/2 default:Q2_K", "rep 2/2 default:Q8_0",
    ]  # fmt: skip
    for run in report.runs:
        assert len(run.reps) == 2
        assert all(rep.gen_tokens == 6 for rep in run.reps)  # end-of-sequence ignored: exactly n_predict
        data = run.to_json()
        assert data["cost_usd"] == pytest.approx(0.768 * data["total_s"] / 3600)
        assert data["eq"] == pytest.approx(1 / (data["cost_usd"] * data["total_s"]))
        assert data["peak_rss_bytes"] > data["size_bytes"] // 2
        assert data["load_s"] > 0 and data["ttft_s"] > 0 and data["gen_tps"] > 0
    assert report.runs[0].size_bytes < report.runs[1].size_bytes


@pytest.mark.slow
def test_bench_command_then_measured_pick(capsys: pytest.CaptureFixture[str]) -> None:
    from edgeapp.bench.measured_pick import measured_pick
    from edgeapp.hardware import probe_hardware

    argv = ["bench", "default:Q2_K", "default:Q8_0", "--n-predict", "4", "--reps", "1", "--warmup", "0",
            "--ctx", "256", "--threads", "1", "--preset", "short"]  # fmt: skip
    assert main([*argv, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["quant"] for row in rows] == ["Q2_K", "Q8_0"] and all(
        row["gen_tokens"] == "4" for row in rows
    )
    assert main([*argv, "--json", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["prompt_name"] == "short" and data["machine"]["fingerprint"]
    pick = measured_pick("default", ["Q2_K", "Q8_0"], max_kld=None, min_tps=0.01, hw=probe_hardware())
    assert pick.quant == "Q2_K" and pick.basis == "measured"
    assert all(row.tps_basis == "measured" for row in pick.rows)


def test_bench_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "default", "--reps", "0"]) == 2
    assert "--reps must be at least 1" in capsys.readouterr().err
    assert main(["bench", "default", "--gpu-layers", "lots"]) == 2
    assert main(["bench", "default", "--prompt", "a", "--preset", "short"]) == 2


@pytest.mark.slow
def test_a_model_that_cannot_load_is_reported_not_fatal(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(4096))
    models = [refs.materialize(refs.resolve("default:Q2_K")), refs.resolve(str(broken))]
    settings = BenchSettings(
        prompt="Hi", prompt_name="text", n_predict=2, reps=1, warmup=0, n_ctx=256, threads=1
    )
    report = run_bench(models, settings)
    good, bad = (run.to_json() for run in report.runs)
    assert good["error"] is None and good["gen_tokens"] == 2 and good["eq"] > 0
    assert bad["error"] and bad["eq"] is None and bad["gen_tps"] is None and bad["reps"] == []
