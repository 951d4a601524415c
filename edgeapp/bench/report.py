"""Reports of benchmarks and comparisons: terminal tables, Markdown, CSV, JSON, and a report folder.

The Markdown follows seed 000's tables: Table 1 gives inference cost and time per model (one
column pair per model, one row per machine), Table 2 the Efficiency Quotient; a detail table
adds what the paper did not measure (load, TTFT, prompt and generation speed, peak memory).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeapp.atomic import atomic_write_json, atomic_write_text
from edgeapp.cli.output import format_bytes, format_table

if TYPE_CHECKING:
    from edgeapp.bench.quality import CompareReport
    from edgeapp.bench.runner import BenchReport


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def machine_name(machine: dict[str, Any]) -> str:
    """Return the short machine label used as the row name of seed-000 tables."""
    return str(machine.get("name") or machine.get("summary") or "this machine")


# -- bench -----------------------------------------------------------------------------------


def bench_detail_rows(report: BenchReport) -> list[list[str]]:
    """Return one row of displayed figures per model."""
    rows = []
    for run in report.runs:
        data = run.to_json()
        if run.error is not None:
            rows.append(
                [
                    run.model.label,
                    data["quant"] or "-",
                    format_bytes(data["size_bytes"]),
                    f"failed: {run.error}",
                ]
            )
            continue
        rows.append(
            [
                run.model.label,
                data["quant"] or "-",
                format_bytes(data["size_bytes"]),
                f"{data['load_s']:.2f}",
                f"{data['ttft_s']:.3f}",
                f"{data['prompt_tps']:.1f}",
                f"{data['gen_tps']:.2f} ± {data['gen_tps_sd']:.2f}",
                f"{data['total_s']:.2f}",
                format_bytes(data["peak_rss_bytes"]),
                format_bytes(data["peak_vram_bytes"]),
                f"{data['cost_usd']:.8f}",
                _num(data["eq"], ".6g"),
            ]
        )
    return rows


_BENCH_HEADERS = (
    "model", "quant", "size", "load s", "TTFT s", "prompt tok/s", "gen tok/s", "total s",
    "peak RSS", "peak VRAM", "cost USD", "EQ",
)  # fmt: skip


def bench_text(report: BenchReport) -> str:
    """Return the benchmark as an aligned terminal table with a settings line."""
    s = report.settings
    head = (
        f"{len(report.runs)} model(s) · prompt '{s.prompt_name}' · {s.n_predict} tokens greedy · "
        f"{s.reps} rep(s) after {s.warmup} warm-up · ctx {s.n_ctx} · ${s.price_per_hour}/h"
    )
    table = format_table(_BENCH_HEADERS, bench_detail_rows(report), right=range(2, len(_BENCH_HEADERS)))
    return f"{head}\n{table}"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def bench_markdown(report: BenchReport) -> str:
    """Return the benchmark as Markdown: seed 000's Table 1 and Table 2, then the details."""
    s = report.settings
    labels = [run.model.label for run in report.runs]
    machine = machine_name(report.machine)
    table1 = _md_table(
        ["Machine"]
        + [f"Inference Cost (USD) {label}" for label in labels]
        + [f"Inference Time (s) {label}" for label in labels],
        [
            [machine]
            + [f"{run.cost_usd:.8f}" if run.reps else "-" for run in report.runs]
            + [f"{run.total_s:.4f}" if run.reps else "-" for run in report.runs]
        ],
    )
    table2 = _md_table(["Machine"] + labels, [[machine] + [_num(run.eq, ".6g") for run in report.runs]])
    details = _md_table(_BENCH_HEADERS, bench_detail_rows(report))
    return (
        "\n\n".join(
            [
                "# edgeapp bench",
                f"Machine: {report.machine.get('summary', machine)}  \n"
                f"Prompt: {s.prompt_name} · {s.n_predict} tokens, greedy, end-of-sequence ignored · "
                f"context {s.n_ctx} · GPU layers {s.gpu_layers} · {s.reps} repetition(s) after "
                f"{s.warmup} warm-up, interleaved · price ${s.price_per_hour}/hour · {report.started_at}",
                "Table 1. Inference cost and time per model (time: request to last token, mean of the repetitions)",
                table1,
                "Table 2. Efficiency Quotient, EQ = 1 / (cost × time)",
                table2,
                "Details (generation speed: mean ± standard deviation)",
                details,
            ]
        )
        + "\n"
    )


_BENCH_CSV_FIELDS = (
    "model", "label", "quant", "path", "size_bytes", "gpu_layers", "threads", "n_ctx", "load_s", "ttft_s",
    "prompt_tokens", "prompt_tps", "gen_tokens", "gen_tps", "gen_tps_sd", "total_s", "total_s_sd",
    "peak_rss_bytes", "peak_vram_bytes", "price_per_hour", "cost_usd", "eq",
)  # fmt: skip


def _csv(fields: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    return buffer.getvalue()


def bench_csv(report: BenchReport) -> str:
    """Return one CSV line per model (the JSON run fields, without the repetitions)."""
    return _csv(_BENCH_CSV_FIELDS, [run.to_json() for run in report.runs])


# -- compare ---------------------------------------------------------------------------------

_COMPARE_HEADERS = (
    "model", "quant", "size", "PPL", "ΔPPL %", "mean KLD", "99% KLD", "same top %", "greedy match",
    "gen tok/s", "peak RSS",
)  # fmt: skip


def compare_detail_rows(report: CompareReport) -> list[list[str]]:
    """Return one row of displayed quality figures per model, reference first."""
    rows = []
    for row in report.rows:
        data = row.to_json()
        label = row.model.label + (" (ref)" if row.is_reference else "")
        rows.append(
            [
                label,
                data["quant"] or "-",
                format_bytes(data["size_bytes"]),
                f"{data['ppl']:.4f} ± {data['ppl_stderr']:.4f}",
                f"{data['ppl_delta_pct']:+.2f}",
                f"{_num(data['kld_mean'], '.5f')} ± {_num(data['kld_stderr'], '.5f')}",
                _num(data["kld_p99"], ".4f"),
                f"{100 * (data['top1_agreement'] or 0):.2f} ± {100 * (data['top1_stderr'] or 0):.2f}",
                f"{data['greedy_match_tokens']}/{data['greedy_reference_tokens']}",
                _num(data["gen_tps"], ".1f"),
                format_bytes(data["peak_rss_bytes"]),
            ]
        )
    return rows


def compare_text(report: CompareReport) -> str:
    """Return the comparison as an aligned terminal table with what was scored."""
    head = (
        f"reference {report.reference.label} · text '{report.text.name}' · context {report.settings.n_ctx} · "
        f"{report.rows[0].score.chunks} chunk(s), {report.tokens_scored} tokens scored (llama-perplexity protocol)"
    )
    return (
        head
        + "\n"
        + format_table(_COMPARE_HEADERS, compare_detail_rows(report), right=range(2, len(_COMPARE_HEADERS)))
    )


def compare_markdown(report: CompareReport) -> str:
    """Return the comparison as Markdown."""
    return (
        "\n\n".join(
            [
                "# edgeapp compare",
                f"Machine: {report.machine.get('summary', machine_name(report.machine))}  \n"
                f"Reference: {report.reference.label} · text: {report.text.name} (sha256 {report.text.sha256[:12]}) · "
                f"context {report.settings.n_ctx} · {report.rows[0].score.chunks} chunk(s) · "
                f"{report.tokens_scored} tokens scored, second half of each chunk as llama-perplexity does · "
                f"{report.started_at}",
                "PPL ± its standard error; KL divergence of each model's next-token distribution from the "
                "reference's (mean ± error, and 99th percentile); same top %: how often both rank the same "
                "token first; greedy match: tokens of a greedy answer equal to the reference's before the first difference.",
                _md_table(_COMPARE_HEADERS, compare_detail_rows(report)),
            ]
        )
        + "\n"
    )


_COMPARE_CSV_FIELDS = (
    "model", "label", "quant", "path", "reference", "size_bytes", "ppl", "ppl_stderr", "ppl_delta_pct", "ppl_ratio",
    "kld_mean", "kld_stderr", "kld_median", "kld_p99", "kld_max", "top1_agreement", "top1_stderr", "p_diff_rms",
    "greedy_match_tokens", "greedy_reference_tokens", "gen_tps", "peak_rss_bytes", "peak_vram_bytes", "tokens_scored",
)  # fmt: skip


def compare_csv(report: CompareReport) -> str:
    """Return one CSV line per model."""
    return _csv(_COMPARE_CSV_FIELDS, [row.to_json() for row in report.rows])


# -- report folder ---------------------------------------------------------------------------


def write_report_dir(
    out_dir: str | Path, bench: BenchReport | None = None, compare: CompareReport | None = None
) -> tuple[list[Path], str | None]:
    """Write report.md, results.json, CSVs and PNG plots to `out_dir`; return (files, note about plots)."""
    from edgeapp.bench.plots import save_png_plots

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    parts = [compare_markdown(compare) if compare else "", bench_markdown(bench) if bench else ""]
    results: dict[str, Any] = {}
    if bench is not None:
        results["bench"] = bench.to_json()
        atomic_write_text(out / "bench.csv", bench_csv(bench))
        written.append(out / "bench.csv")
    if compare is not None:
        results["compare"] = compare.to_json()
        atomic_write_text(out / "compare.csv", compare_csv(compare))
        written.append(out / "compare.csv")
    pngs, note = save_png_plots(out, bench=bench, compare=compare)
    images = "\n".join(f"![{p.stem}]({p.name})" for p in pngs)
    atomic_write_text(
        out / "report.md", "\n".join(p for p in parts if p) + ("\n" + images + "\n" if images else "")
    )
    atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=str)))
    return [out / "report.md", out / "results.json", *written, *pngs], note
