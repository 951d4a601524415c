"""Reports and plots of benchmark results: seed-000-shaped tables, CSV, JSON fields, report folder."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from edgeapp.bench import plots, report
from edgeapp.bench.runner import BenchReport, BenchRun, BenchSettings, Repetition
from edgeapp.refs import ResolvedModel

RUN_FIELDS = {
    "model", "quant", "path", "size_bytes", "gpu_layers", "threads", "n_ctx", "load_s", "ttft_s",
    "prompt_tokens", "prompt_tps", "gen_tokens", "gen_tps", "gen_tps_sd", "total_s", "peak_rss_bytes",
    "peak_vram_bytes", "price_per_hour", "cost_usd", "eq",
}  # fmt: skip


def _rep(total_s: float, gen_tps: float) -> Repetition:
    return Repetition(
        load_s=0.2, ttft_s=0.05, prompt_tokens=180, prompt_tps=900.0, gen_tokens=512, gen_tps=gen_tps,
        total_s=total_s, peak_rss_bytes=200 << 20, peak_vram_bytes=None, gpu_layers=0, threads=2, n_ctx=2048,
    )  # fmt: skip


def _report(tmp_path: Path) -> BenchReport:
    runs = []
    for quant, size, times in (("Q2_K", 88 << 20, (5.0, 5.2)), ("Q8_0", 145 << 20, (7.0, 7.4))):
        path = tmp_path / f"model.{quant}.gguf"
        model = ResolvedModel(f"default:{quant}", "default", "default", "SmolLM2", quant, path)
        reps = tuple(_rep(t, 512 / t) for t in times)
        runs.append(BenchRun(model=model, quant=quant, size_bytes=size, price_per_hour=0.768, reps=reps))
    settings = BenchSettings(prompt="hello", prompt_name="grandville", reps=2)
    return BenchReport(
        machine={"name": "test box", "summary": "x86_64 · 2 cores"}, settings=settings, runs=tuple(runs)
    )


def test_json_has_every_promised_field(tmp_path: Path) -> None:
    data = json.loads(json.dumps(_report(tmp_path).to_json()))
    assert set(data) >= {"machine", "settings", "runs"}
    for run in data["runs"]:
        assert set(run) >= RUN_FIELDS
        assert len(run["reps"]) == 2
    assert data["runs"][0]["total_s"] == pytest.approx(5.1)
    assert data["settings"]["n_predict"] == 512 and data["settings"]["sampling"] == "greedy"


def test_markdown_has_seed_000_tables(tmp_path: Path) -> None:
    bench = _report(tmp_path)
    text = report.bench_markdown(bench)
    lines = text.splitlines()
    table1 = lines.index(next(line for line in lines if line.startswith("| Machine | Inference Cost (USD)")))
    header = lines[table1]
    assert header.count("Inference Cost (USD)") == 2 and header.count("Inference Time (s)") == 2
    row = lines[table1 + 2].split("|")
    assert row[1].strip() == "test box"
    assert float(row[2]) == pytest.approx(bench.runs[0].cost_usd, abs=1e-8)
    assert float(row[4]) == pytest.approx(5.1)
    table2 = next(
        i for i, line in enumerate(lines) if line.startswith("| Machine | default:Q2_K | default:Q8_0")
    )
    eq_cells = lines[table2 + 2].split("|")
    assert float(eq_cells[2]) == pytest.approx(bench.runs[0].eq, rel=1e-5)
    assert "Table 1." in text and "Table 2." in text


def test_csv_round_trips(tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(report.bench_csv(_report(tmp_path)))))
    assert [r["quant"] for r in rows] == ["Q2_K", "Q8_0"]
    assert set(rows[0]) >= RUN_FIELDS
    assert float(rows[1]["gen_tps"]) == pytest.approx((512 / 7.0 + 512 / 7.4) / 2)
    assert rows[0]["peak_vram_bytes"] == ""


def test_terminal_table_and_plot(tmp_path: Path) -> None:
    bench = _report(tmp_path)
    table = report.bench_text(bench)
    assert "default:Q2_K" in table and "± " in table
    drawing = plots.terminal_plot(plots.plot_points(bench), width=80, height=12)
    assert "size vs generation speed" in drawing
    assert "Q2_K" in drawing and "Q8_0" in drawing
    assert "\x1b[" not in drawing  # colorless for pipes and files
    assert plots.terminal_plot([], width=80) == ""


def test_report_dir_writes_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written, note = report.write_report_dir(out, bench=_report(tmp_path))
    names = {p.name for p in written}
    assert {"report.md", "results.json", "bench.csv"} <= names
    assert json.loads((out / "results.json").read_text())["bench"]["runs"][0]["quant"] == "Q2_K"
    pngs = [p for p in written if p.suffix == ".png"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert pngs == [] and note and "matplotlib" in note
    else:
        assert note is None and pngs
        for png in pngs:
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({png.name})" in (out / "report.md").read_text()
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_failed_run_has_no_cost_or_eq(tmp_path: Path) -> None:
    bench = _report(tmp_path)
    failed = BenchRun(bench.runs[1].model, "Q8_0", 145 << 20, 0.768, (), error="out of memory")
    broken = BenchReport(bench.machine, bench.settings, (bench.runs[0], failed))
    text = report.bench_markdown(broken)
    assert "failed: out of memory" in text
    table2 = next(
        line for line in text.splitlines() if line.startswith("| test box") and line.count("|") == 4
    )
    assert table2.split("|")[3].strip() == "-"  # seed 000 gives no EQ to an unsuccessful inference
    assert [p.label for p in plots.plot_points(broken)] == ["Q2_K"]
    assert list(csv.DictReader(io.StringIO(report.bench_csv(broken))))[1]["eq"] == ""
