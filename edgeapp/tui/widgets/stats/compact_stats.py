"""One line of live figures with a sparkline under it: a compare pane's stats."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from edgeapp.tui.widgets.stats.stats_view import StatsView, fmt_bytes, fmt_seconds, fmt_tps, fmt_vram


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
    """A stats line and a sparkline; `show(view)` redraws only on change."""

    DEFAULT_CSS = """
    CompactStats { height: 2; }
    CompactStats > Static { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CompactStats > Sparkline { height: 1; }
    """

    def __init__(self, view: StatsView | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view or StatsView()

    def compose(self) -> ComposeResult:
        yield Static(compact_line(self.view), classes="compact-line")
        yield Sparkline(list(self.view.rates))

    def show(self, view: StatsView) -> None:
        """Display `view`."""
        if view == self.view:
            return
        self.view = view
        self.query_one(".compact-line", Static).update(compact_line(view), layout=False)
        self.query_one(Sparkline).data = list(view.rates)
