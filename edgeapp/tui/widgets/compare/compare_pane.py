"""One side of a comparison: which model, what it is doing, its answer streaming, its live figures."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static

from edgeapp.tui.widgets.stats.compact_stats import CompactStats
from edgeapp.tui.widgets.stats.stats_view import StatsView


class ComparePane(Vertical):
    """A titled pane: status line, the answer as Markdown, and a line of figures with a sparkline."""

    DEFAULT_CSS = """
    ComparePane { width: 1fr; height: 1fr; border: round $primary 40%; padding: 0 1; }
    ComparePane.-running { border: round $accent; }
    ComparePane.-failed { border: round $error; }
    ComparePane > .pane-status { height: 1; color: $text-muted; }
    ComparePane > VerticalScroll { height: 1fr; }
    ComparePane Markdown { margin: 0; padding: 0; background: transparent; }
    """

    def __init__(self, side: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.side = side
        self.text = ""
        self.border_title = side

    def compose(self) -> ComposeResult:
        yield Static("ready · ctrl+r runs A and B", classes="pane-status")
        with VerticalScroll():
            yield Markdown("")
        yield CompactStats()

    def _follow(self) -> None:
        # Anchor only once the answer overflows: an anchored short answer sits at the bottom.
        scroll = self.query_one(VerticalScroll)
        if not scroll.is_anchored and scroll.virtual_size.height > scroll.container_size.height:
            scroll.anchor()

    def reset(self, label: str, view: StatsView) -> None:
        """Clear the pane for a new run of `label`."""
        self.text = ""
        self.border_title = f"{self.side} · {label}"
        self.set_class(False, "-failed")
        self.query_one(VerticalScroll).anchor(False)
        self.query_one(Markdown).update("")
        self.show_stats(view)

    def set_status(self, text: str, *, running: bool | None = None, failed: bool = False) -> None:
        """Show what the side is doing."""
        self.query_one(".pane-status", Static).update(text)
        if running is not None:
            self.set_class(running, "-running")
        self.set_class(failed, "-failed")

    def append(self, delta: str) -> None:
        """Add streamed answer text."""
        if delta:
            self.text += delta
            self.query_one(Markdown).append(delta)
            self.call_after_refresh(self._follow)

    def show_text(self, text: str) -> None:
        """Replace the answer (used by snapshot tests and when reopening a result)."""
        self.text = text
        self.query_one(Markdown).update(text)

    @property
    def stats_view(self) -> StatsView:
        """Return the figures the pane shows now."""
        return self.query_one(CompactStats).view

    def show_stats(self, view: StatsView) -> None:
        """Show `view` in the figures line."""
        self.query_one(CompactStats).show(view)
