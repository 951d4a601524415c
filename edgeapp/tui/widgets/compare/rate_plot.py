"""Tokens/s over time for A and B on one shared scale, drawn with block characters.

A sparkline scales each series to its own maximum, which hides that one side is twice as fast;
here both series share the y scale and the time axis, so the bars compare directly.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
LABEL_WIDTH = 18


def resample(series: list[float], duration_s: float, total_s: float, width: int) -> list[float]:
    """Return `series` (evenly spread over `duration_s`) as `width` columns over `total_s`."""
    if not series or width <= 0 or total_s <= 0:
        return [0.0] * max(width, 0)
    columns = []
    for column in range(width):
        t = (column + 0.5) * total_s / width
        if t > duration_s:
            columns.append(0.0)
            continue
        index = min(int(t / duration_s * len(series)) if duration_s > 0 else 0, len(series) - 1)
        columns.append(series[index])
    return columns


def bar_rows(values: list[float], peak: float, height: int) -> list[str]:
    """Return `height` strings of block characters, top row first, for `values` scaled to `peak`."""
    rows = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        chars = []
        for value in values:
            eighths = round(value / peak * height * 8) if peak > 0 else 0
            chars.append(BLOCKS[max(0, min(8, eighths - floor))])
        rows.append("".join(chars))
    return rows


class RatePlot(Widget):
    """Two series of tokens/s (A above, B below) over seconds since each side's first token."""

    DEFAULT_CSS = """
    RatePlot { height: 9; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: list[tuple[str, list[float], float]] = []  # (label, rates, duration_s)

    def plot(self, series: list[tuple[str, list[float], float]]) -> None:
        """Show `(label, tokens/s per bucket, duration_s)` for each side (at most two)."""
        self.series = list(series)
        self.refresh()

    def render(self) -> RenderableType:
        if not self.series:
            return Text("tokens/s over time appears here after a run", style="dim")
        width = max(self.size.width - LABEL_WIDTH - 1, 8)
        height = max((self.size.height - 1) // max(len(self.series), 1), 1)
        peak = max((max(rates) for _, rates, _ in self.series if rates), default=0.0)
        total_s = max((duration for _, _, duration in self.series), default=0.0)
        text = Text(no_wrap=True, overflow="crop")
        colours = ("cyan", "magenta")
        for index, (label, rates, duration) in enumerate(self.series):
            rows = bar_rows(resample(rates, duration, total_s, width), peak, height)
            for row_index, row in enumerate(rows):
                if row_index == 0:
                    head = f"{label[: LABEL_WIDTH - 2]}"
                elif row_index == 1 and rates:
                    head = f"max {max(rates):.0f} tok/s"
                else:
                    head = ""
                text.append(f"{head:<{LABEL_WIDTH}} ", "dim" if row_index else "bold")
                text.append(row + "\n", colours[index % 2])
        axis = f"{'0 s':<{LABEL_WIDTH}} " + f"{total_s:.1f} s".rjust(width)
        text.append(axis, "dim")
        return text
