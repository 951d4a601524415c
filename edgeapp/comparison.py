"""A side-by-side comparison of two models on one prompt: figures, B/A ratios, cost, EQ, export.

The TUI's compare screen builds a `Comparison` from two `RunResult`s (and quality figures when they
were measured); `export_comparison` writes it as Markdown and JSON, atomically, into
`data_directory()/comparisons`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from edgeapp import locations
from edgeapp.atomic import atomic_write_json, atomic_write_text
from edgeapp.cost import efficiency_quotient, inference_cost_usd

FORMAT_VERSION = 1
Mode = Literal["fair", "race"]
Better = Literal["higher", "lower", ""]

RACE_NOTE = "RACE: both ran at once with the cores split; speeds are not comparable to fair runs"


@dataclass(frozen=True)
class SideResult:
    """One side (A or B) of a comparison: what ran and what was measured."""

    label: str
    ref: str
    path: str
    size_bytes: int
    load_s: float
    ttft_s: float
    prompt_tps: float
    gen_tps: float
    gen_tokens: int
    prompt_tokens: int
    total_s: float
    peak_rss_bytes: int
    peak_vram_bytes: int | None
    threads: int
    gpu_layers: int
    n_layers: int
    stop_reason: str
    text: str
    token_times: tuple[tuple[float, int], ...] = ()

    @classmethod
    def from_run(cls, result: Any) -> SideResult:
        """Return the side for an `edgeapp.runs.RunResult`."""
        stats, loaded = result.stats, result.loaded
        return cls(
            label=result.model.label,
            ref=result.model.ref,
            path=str(result.model.path),
            size_bytes=result.size_bytes,
            load_s=loaded.load_s,
            ttft_s=stats.ttft_s,
            prompt_tps=stats.prompt_tps,
            gen_tps=stats.gen_tps,
            gen_tokens=stats.gen_tokens,
            prompt_tokens=stats.prompt_tokens,
            total_s=stats.total_s,
            peak_rss_bytes=result.peak_rss_bytes,
            peak_vram_bytes=result.peak_vram_bytes,
            threads=loaded.threads,
            gpu_layers=loaded.gpu_layers,
            n_layers=loaded.n_layers,
            stop_reason=stats.stop_reason,
            text=stats.text,
            token_times=tuple(result.token_times),
        )

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["token_times"] = [list(pair) for pair in self.token_times]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SideResult:
        values = dict(data)
        values["token_times"] = tuple((float(t), int(n)) for t, n in data.get("token_times", []))
        return cls(**values)


@dataclass(frozen=True)
class QualityFigures:
    """Quality of one side on a reference text: perplexity, and against a reference model, KLD/top-1."""

    perplexity: float
    kld_mean: float | None = None
    top1_agreement: float | None = None  # fraction 0..1
    reference: str | None = None  # the model the KLD and agreement are measured against
    text_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ComparisonRow:
    """One figure for A and B, its unit, B/A, and which direction is better."""

    key: str
    name: str
    unit: str
    a: float | None
    b: float | None
    better: Better

    @property
    def ratio(self) -> float | None:
        """Return B/A, or None when either is missing or A is zero."""
        return ratio(self.a, self.b)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "unit": self.unit,
            "a": self.a,
            "b": self.b,
            "ratio_b_over_a": self.ratio,
            "better": self.better,
        }


@dataclass(frozen=True)
class Comparison:
    """Two runs of the same prompt and settings, with the price used for cost and EQ."""

    prompt: str
    mode: Mode
    settings: dict[str, Any]
    a: SideResult
    b: SideResult
    price_per_hour: float
    quality_a: QualityFigures | None = None
    quality_b: QualityFigures | None = None
    machine: str = ""
    created_at: str = field(default_factory=lambda: _now_iso())

    def with_price(self, price_per_hour: float) -> Comparison:
        """Return this comparison costed at another price per hour."""
        return replace(self, price_per_hour=price_per_hour)

    def with_quality(self, a: QualityFigures | None, b: QualityFigures | None) -> Comparison:
        """Return this comparison with quality figures for A and B."""
        return replace(self, quality_a=a, quality_b=b)

    def rows(self) -> tuple[ComparisonRow, ...]:
        """Return every figure of the summary table, in display order."""
        return comparison_rows(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "created_at": self.created_at,
            "prompt": self.prompt,
            "mode": self.mode,
            "note": RACE_NOTE if self.mode == "race" else "",
            "machine": self.machine,
            "settings": self.settings,
            "price_per_hour": self.price_per_hour,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "quality": {
                "a": self.quality_a.to_json() if self.quality_a else None,
                "b": self.quality_b.to_json() if self.quality_b else None,
            },
            "rows": [row.to_json() for row in self.rows()],
        }


@dataclass(frozen=True)
class ExportPaths:
    markdown: Path
    json: Path


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def ratio(a: float | None, b: float | None) -> float | None:
    """Return b / a, or None when either is missing, not finite, or a is zero."""
    if a is None or b is None or a == 0 or not math.isfinite(a) or not math.isfinite(b):
        return None
    return b / a


def reply_cost_usd(side: SideResult, price_per_hour: float) -> float:
    """Return what the reply cost at `price_per_hour` (request to last token, as seed 000 times it)."""
    return inference_cost_usd(price_per_hour, side.total_s)


_QUALITY_ROWS: tuple[tuple[str, str, str, Better, Callable[[QualityFigures], float | None]], ...] = (
    ("perplexity", "Perplexity", "", "lower", lambda q: q.perplexity),
    ("kld_mean", "KL divergence", "", "lower", lambda q: q.kld_mean),
    ("top1_agreement", "Top-1 agreement", "%", "higher", lambda q: _percent(q.top1_agreement)),
)


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100.0


def comparison_rows(comparison: Comparison) -> tuple[ComparisonRow, ...]:
    """Return the summary rows of `comparison` (quality rows only when quality was measured)."""
    a, b, price = comparison.a, comparison.b, comparison.price_per_hour
    rows = [
        ComparisonRow("load_s", "Load time", "s", a.load_s, b.load_s, "lower"),
        ComparisonRow("ttft_s", "Time to first token", "s", a.ttft_s, b.ttft_s, "lower"),
        ComparisonRow("gen_tps", "Generation", "tok/s", a.gen_tps, b.gen_tps, "higher"),
        ComparisonRow("prompt_tps", "Prompt processing", "tok/s", a.prompt_tps, b.prompt_tps, "higher"),
        ComparisonRow("gen_tokens", "Tokens generated", "", a.gen_tokens, b.gen_tokens, ""),
        ComparisonRow("total_s", "Reply time", "s", a.total_s, b.total_s, "lower"),
        ComparisonRow("peak_rss_bytes", "Peak RAM", "bytes", a.peak_rss_bytes, b.peak_rss_bytes, "lower"),
        ComparisonRow("peak_vram_bytes", "Peak VRAM", "bytes", a.peak_vram_bytes, b.peak_vram_bytes, "lower"),
        ComparisonRow("size_bytes", "File size", "bytes", a.size_bytes, b.size_bytes, "lower"),
        ComparisonRow(
            "cost_usd", "Cost per reply", "USD", reply_cost_usd(a, price), reply_cost_usd(b, price), "lower"
        ),
        ComparisonRow(
            "eq",
            "EQ",
            "",
            efficiency_quotient(price, a.total_s),
            efficiency_quotient(price, b.total_s),
            "higher",
        ),
    ]
    if comparison.quality_a is not None or comparison.quality_b is not None:
        for key, name, unit, better, get in _QUALITY_ROWS:
            qa = get(comparison.quality_a) if comparison.quality_a else None
            qb = get(comparison.quality_b) if comparison.quality_b else None
            rows.append(ComparisonRow(key, name, unit, qa, qb, better))
    return tuple(rows)


def format_value(value: float | None, unit: str) -> str:
    """Return `value` for a table cell in its unit (bytes as MiB/GiB, seconds, tok/s, USD)."""
    if value is None:
        return "—"
    if unit == "bytes":
        return format_bytes(int(value))
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "tok/s":
        return f"{value:.1f} tok/s"
    if unit == "USD":
        return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"
    if unit == "%":
        return f"{value:.1f} %"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def format_bytes(count: int) -> str:
    """Return a byte count with three significant figures: 812 KiB, 84.1 MiB, 236 MiB, 1.25 GiB."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1000 or unit == "TiB":
            break
        size /= 1024
    if unit == "B" or abs(size) >= 100:
        return f"{size:.0f} {unit}"
    return f"{size:.1f} {unit}" if abs(size) >= 10 else f"{size:.2f} {unit}"


def format_ratio(value: float | None) -> str:
    """Return a B/A ratio such as 1.52×, or — when it is undefined."""
    return "—" if value is None else f"{value:.2f}×"


def rate_series(token_times: tuple[tuple[float, int], ...], bucket_s: float = 0.25) -> list[float]:
    """Return tokens/s per `bucket_s` interval since the first token, from a run's token timeline."""
    if not token_times:
        return []
    end = token_times[-1][0]
    buckets = [0] * (int(end / bucket_s) + 1)
    for t, n in token_times[1:]:  # the first batch holds the first token, at t = 0
        buckets[min(int(t / bucket_s), len(buckets) - 1)] += n
    return [count / bucket_s for count in buckets]


def to_markdown(comparison: Comparison) -> str:
    """Return the comparison as a Markdown report: settings, the table with B/A, both answers."""
    a, b = comparison.a, comparison.b
    lines = [
        f"# Comparison: {a.label} (A) vs {b.label} (B)",
        "",
        f"- Date: {comparison.created_at}",
        f"- Mode: {comparison.mode}" + (f" — {RACE_NOTE}" if comparison.mode == "race" else ""),
    ]
    if comparison.machine:
        lines.append(f"- Machine: {comparison.machine}")
    settings = ", ".join(f"{k}={v}" for k, v in comparison.settings.items())
    lines += [f"- Settings: {settings}", f"- Price per hour: ${comparison.price_per_hour:g}", ""]
    lines += ["## Prompt", "", _quote(comparison.prompt), ""]
    lines += [f"| Figure | A: {a.label} | B: {b.label} | B/A |", "|---|---:|---:|---:|"]
    for row in comparison.rows():
        cells = (format_value(row.a, row.unit), format_value(row.b, row.unit), format_ratio(row.ratio))
        lines.append(f"| {row.name} | {cells[0]} | {cells[1]} | {cells[2]} |")
    if comparison.quality_a and comparison.quality_a.reference:
        lines += [
            "",
            f"KL divergence and top-1 agreement are measured against {comparison.quality_a.reference}.",
        ]
    for name, side in (("A", a), ("B", b)):
        lines += ["", f"## Answer {name}: {side.label} ({side.stop_reason})", "", _quote(side.text)]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in (text or "(empty)").splitlines())


def comparisons_directory() -> Path:
    """Return the directory where exported comparisons are written."""
    path = locations.data_directory() / "comparisons"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_comparison(comparison: Comparison, directory: Path | None = None) -> ExportPaths:
    """Write `comparison` as Markdown and JSON (atomically); return both paths."""
    directory = directory or comparisons_directory()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    stem = f"{stamp}-{_slug(comparison.a.label)}-vs-{_slug(comparison.b.label)}"
    markdown, json_path = directory / f"{stem}.md", directory / f"{stem}.json"
    atomic_write_text(markdown, to_markdown(comparison))
    atomic_write_json(json_path, comparison.to_json())
    return ExportPaths(markdown=markdown, json=json_path)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)[:60]
