"""Plots of the size / quality / speed trade-off: in the terminal (plotext) and as PNGs (matplotlib).

Three panels, each point a quant labelled by name: file size against mean KL divergence, file size
against generation speed, and speed against KL divergence (the frontier a pick walks along).
matplotlib is an optional extra (`pip install edgeapp[plots]`); without it only the terminal plot
is drawn and the caller is told why there is no PNG.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeapp.bench.quality import CompareReport
    from edgeapp.bench.runner import BenchReport

_MIB = 1024 * 1024


@dataclass(frozen=True)
class PlotPoint:
    """One model on the plots."""

    label: str
    size_mib: float
    kld_mean: float | None
    gen_tps: float | None


def plot_points(bench: BenchReport | None = None, compare: CompareReport | None = None) -> list[PlotPoint]:
    """Return one point per model file, merging a benchmark's speed with a comparison's quality."""
    points: dict[str, dict[str, Any]] = {}
    for row in compare.rows if compare else ():
        points[str(row.model.path)] = {
            "label": row.quant or row.model.label,
            "size_mib": row.size_bytes / _MIB,
            "kld_mean": row.kld_mean,
            "gen_tps": row.gen_tps,
        }
    for run in bench.runs if bench else ():
        if not run.reps:
            continue
        entry = points.setdefault(
            str(run.model.path),
            {"label": run.quant or run.model.label, "size_mib": run.size_bytes / _MIB, "kld_mean": None},
        )
        entry["gen_tps"] = run.gen_tps  # the benchmark's repeated figure beats the comparison's single run
    return [PlotPoint(**values) for values in points.values()]


def _panels(points: list[PlotPoint]) -> list[tuple[str, str, str, list[tuple[str, float, float]]]]:
    """Return (title, x label, y label, [(label, x, y)]) for each panel that has data."""
    size_kld = [(p.label, p.size_mib, p.kld_mean) for p in points if p.kld_mean is not None]
    size_tps = [(p.label, p.size_mib, p.gen_tps) for p in points if p.gen_tps is not None]
    tps_kld = [
        (p.label, p.gen_tps, p.kld_mean) for p in points if p.gen_tps is not None and p.kld_mean is not None
    ]
    panels = [
        ("size vs mean KLD", "size (MiB)", "mean KLD", size_kld),
        ("size vs generation speed", "size (MiB)", "tokens/s", size_tps),
        ("speed vs mean KLD", "tokens/s", "mean KLD", tps_kld),
    ]
    return [panel for panel in panels if len(panel[3]) >= 1]


def _labels(data: list[tuple[str, float, float]]) -> list[tuple[str, float, float, str]]:
    """Return each label with an alignment that keeps it inside the plot (right half: end at the point)."""
    xs = [x for _, x, _ in data]
    middle = (min(xs) + max(xs)) / 2
    return [(label, x, y, "right" if x > middle else "left") for label, x, y in data]


def terminal_plot(
    points: list[PlotPoint], width: int | None = None, height: int = 16, colorless: bool = True
) -> str:
    """Return the panels drawn with plotext as text ("" when there is nothing to plot)."""
    panels = _panels(points)
    if not panels:
        return ""
    import plotext

    width = width or min(shutil.get_terminal_size((120, 24)).columns, 150)
    if hasattr(plotext, "scatter"):  # plotext 5's module-level API
        return _plotext5(plotext, panels, width, height, colorless)
    figure = plotext.figure
    figure.clear()
    if len(panels) > 1:  # plotext 6 has no 1×1 grid: a single panel is the figure itself
        figure.subplots(1, len(panels))
    for index, (title, xlabel, ylabel, data) in enumerate(panels, start=1):
        sub = figure.subplot(1, index) if len(panels) > 1 else figure
        sub.draw(sub.signal([x for _, x, _ in data], [y for _, _, y in data], marker="dot"))
        for label, x, y, align in _labels(data):
            sub.draw(sub.text(x, y, label, alignment=align))
        sub.title(title)
        sub.label(f"x: {xlabel}, y: {ylabel}", "x")
    figure.plot_size(width, height)
    text = figure.build().string(colorless=colorless)
    figure.clear()
    return text


def _plotext5(plt: Any, panels: list[Any], width: int, height: int, colorless: bool) -> str:
    plt.clear_figure()
    plt.subplots(1, len(panels))
    for index, (title, xlabel, ylabel, data) in enumerate(panels, start=1):
        plt.subplot(1, index)
        plt.scatter([x for _, x, _ in data], [y for _, _, y in data], marker="dot")
        for label, x, y, align in _labels(data):
            plt.text(label, x, y, alignment=align)
        plt.title(title)
        plt.xlabel(f"x: {xlabel}, y: {ylabel}")
    plt.plotsize(width, height)
    if colorless:
        plt.theme("clear")
    text = plt.build()
    plt.clear_figure()
    return str(text)


def save_png_plots(
    out_dir: str | Path, bench: BenchReport | None = None, compare: CompareReport | None = None
) -> tuple[list[Path], str | None]:
    """Write one PNG per panel to `out_dir`; return (paths, a note when PNGs could not be made)."""
    panels = _panels(plot_points(bench, compare))
    if not panels:
        return [], None
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed, and never a window popping up from a CLI
        import matplotlib.pyplot as pyplot
    except ImportError:
        return [], "PNG plots need matplotlib: pip install 'edgeapp[plots]'"
    from edgeapp.atomic import atomic_path

    written = []
    for title, xlabel, ylabel, data in panels:
        fig, axes = pyplot.subplots(figsize=(6.4, 4.4), dpi=120)
        axes.scatter([x for _, x, _ in data], [y for _, _, y in data])
        for label, x, y in data:
            axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
        fig.tight_layout()
        target = Path(out_dir) / (title.replace(" ", "_") + ".png")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png")
        pyplot.close(fig)
        written.append(target)
    return written, None
