"""`compare` on quants derived from the bundled model: the quality ordering llama.cpp's tables show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeapp import refs
from edgeapp.bench.quality import CompareSettings, choose_reference, common_prefix, run_compare
from edgeapp.bench.text import load_text
from edgeapp.cli.main import main

ROW_FIELDS = {
    "model", "quant", "size_bytes", "ppl", "ppl_delta_pct", "kld_mean", "top1_agreement",
    "greedy_match_tokens", "gen_tps", "peak_rss_bytes",
}  # fmt: skip
REPORT_FIELDS = {"reference", "text", "n_ctx", "tokens_scored", "rows"}


def _models(*labels: str) -> list[refs.ResolvedModel]:
    return [refs.materialize(refs.resolve(label)) for label in labels]


def test_common_prefix() -> None:
    assert common_prefix((1, 2, 3, 4), (1, 2, 9, 4)) == 2
    assert common_prefix((1, 2), (1, 2, 3)) == 2
    assert common_prefix((), (1,)) == 0


@pytest.mark.slow
def test_quality_ladder_against_f16(isolated_edgeapp_dirs: Path) -> None:
    q2, q8, f16 = _models("default:Q2_K", "default:Q8_0", "default:F16")
    assert choose_reference([q2, q8, f16], None)[0].path == f16.path  # the most precise by default
    settings = CompareSettings(n_ctx=256, max_chunks=2, greedy_tokens=8, n_predict=0, threads=1)
    report = run_compare([q2, q8, f16], load_text(), settings)
    by_quant = {row.quant: row for row in report.rows}
    assert report.rows[0].quant == "F16" and report.rows[0].is_reference
    reference = by_quant["F16"].to_json()
    assert reference["kld_mean"] == 0.0 and reference["top1_agreement"] == 1.0
    assert reference["greedy_match_tokens"] == reference["greedy_reference_tokens"] > 0
    q2_row, q8_row = by_quant["Q2_K"].to_json(), by_quant["Q8_0"].to_json()
    assert q2_row["ppl"] > q8_row["ppl"]
    assert q2_row["kld_mean"] > q8_row["kld_mean"]
    assert q8_row["kld_mean"] < 0.02
    assert q2_row["kld_p99"] > q8_row["kld_p99"]
    assert q8_row["top1_agreement"] > q2_row["top1_agreement"]
    assert abs(q8_row["ppl_delta_pct"]) < 5
    data = json.loads(json.dumps(report.to_json()))
    assert set(data) >= REPORT_FIELDS and data["reference"] == "default:F16"
    assert data["tokens_scored"] == 2 * (256 - 1 - 128)
    for row in data["rows"]:
        assert set(row) >= ROW_FIELDS
    # The reference's log-probabilities (tokens × vocabulary × 2 bytes) never outlive the comparison.
    assert not list((isolated_edgeapp_dirs / "cache").glob("kld-base-*"))


@pytest.mark.slow
def test_compare_command(isolated_edgeapp_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = isolated_edgeapp_dirs / "report"
    argv = ["compare", "default:Q2_K", "--reference", "default:Q8_0", "--ctx", "128", "--chunks", "1",
            "--greedy-tokens", "4", "--n-predict", "4", "--threads", "1", "--json", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reference"] == "default:Q8_0"
    assert [row["quant"] for row in data["rows"]] == ["Q8_0", "Q2_K"]
    assert data["rows"][1]["gen_tps"] > 0
    assert (out / "report.md").read_text().startswith("# edgeapp compare")
    assert json.loads((out / "results.json").read_text())["compare"]["n_ctx"] == 128
    # Remembered for measured picks on this machine.
    cached = list((isolated_edgeapp_dirs / "cache" / "measurements").glob("*.json"))
    assert any('"kind": "quality"' in path.read_text() for path in cached)


def test_compare_needs_two_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "default"]) == 2
    assert "at least two models" in capsys.readouterr().err
    assert main(["compare", "default", "default:Q2_K", "--json", "--csv"]) == 2
