"""One line of live figures with a sparkline under it: a compare pane's stats."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from edgeapp.tui.widgets.stats.stats_view import StatsView, fmt_bytes, fmt_seconds, fmt_tps, fmt_vram

REDRAW_INTERVAL_S = 0.2  # figures nobody can read faster than this: 5 redraws a second at most


def compact_line(view: StatsView) -> Text:
    """Return "152.3 tok/s  TTFT 52 ms  123 tok  RSS 180 MiB  no GPU" as styled text."""
    ttft = fmt_seconds(view.ttft_s)
    if view.ttft_s is not None and not view.final:
        ttft = "~" + ttft
    vram = fmt_vram(view)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(fmt_tps(view.gen_tps), "bold")
    for label, value in (
        ("TTFT", ttft),
        ("", f"{view.tokens or 0} tok"),
        ("RSS", fmt_bytes(view.rss_bytes)),
        ("" if vram == "no GPU" else "VRAM", vram),
    ):
        text.append("  ")
        if label:
            text.append(label + " ", "dim")
        text.append(value)
    return text


class CompactStats(Vertical):
    """A stats line and a sparkline; `show(view)` as often as you like: it redraws at most 5 times
    a second (a final view at once), and only the parts that changed, without a layout pass."""

    DEFAULT_CSS = """
    CompactStats { height: 2; }
    CompactStats > Static { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CompactStats > Sparkline { height: 1; }
    """

    def __init__(self, view: StatsView | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view or StatsView()
        self._drawn = self.view
        self._drawn_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static(compact_line(self.view), classes="compact-line")
        yield Sparkline(list(self.view.rates))

    def on_mount(self) -> None:
        self.set_interval(REDRAW_INTERVAL_S, self._redraw_stale)

    def show(self, view: StatsView) -> None:
        """Display `view` (at once when it is final, else within REDRAW_INTERVAL_S)."""
        self.view = view
        if view.final or time.monotonic() - self._drawn_at >= REDRAW_INTERVAL_S:
            self._draw()

    def _redraw_stale(self) -> None:
        # Views that keep coming are drawn by `show`, in the frame that redraws the answer anyway.
        if self.view != self._drawn and time.monotonic() - self._drawn_at >= 2 * REDRAW_INTERVAL_S:
            self._draw()

    def _draw(self) -> None:
        view, drawn = self.view, self._drawn
        self._drawn, self._drawn_at = view, time.monotonic()
        if not self.is_mounted:
            return  # composed from self.view
        if compact_line(view) != compact_line(drawn):
            self.query_one(".compact-line", Static).update(compact_line(view), layout=False)
        if view.rates != drawn.rates:
            self.query_one(Sparkline).data = list(view.rates)
