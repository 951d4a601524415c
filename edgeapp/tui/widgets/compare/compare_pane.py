"""One side of a comparison: which model, what it is doing, its answer streaming, its live figures."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from edgeapp.tui.widgets.chat.follow_scroll import FollowScroll
from edgeapp.tui.widgets.markdown.streaming_markdown import StreamingMarkdown
from edgeapp.tui.widgets.stats.compact_stats import CompactStats
from edgeapp.tui.widgets.stats.stats_view import StatsView


class ComparePane(Vertical):
    """A titled pane: status line, the answer as Markdown, and a line of figures with a sparkline.

    The answer streams in as plain text block by block (see StreamingMarkdown); when the side stops
    running (`set_status(..., running=False)`), the rest of it is rendered as Markdown too.
    """

    DEFAULT_CSS = """
    ComparePane { width: 1fr; height: 1fr; border: round $primary 40%; padding: 0 1; }
    ComparePane.-running { border: round $accent; }
    ComparePane.-failed { border: round $error; }
    ComparePane > .pane-status { height: 1; color: $text-muted; }
    ComparePane > FollowScroll { height: 1fr; }
    """

    def __init__(self, side: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.side = side
        self.border_title = side

    def compose(self) -> ComposeResult:
        yield Static("ready · ctrl+r runs A and B", classes="pane-status")
        with FollowScroll():
            yield StreamingMarkdown()
        yield CompactStats()

    @property
    def text(self) -> str:
        """Return the answer (so far)."""
        return self.query_one(StreamingMarkdown).text

    def reset(self, label: str, view: StatsView) -> None:
        """Clear the pane for a new run of `label`."""
        self.border_title = f"{self.side} · {label}"
        self.set_class(False, "-failed")
        self.query_one(FollowScroll).anchor(False)
        self.query_one(StreamingMarkdown).update("")
        self.show_stats(view)

    def set_status(self, text: str, *, running: bool | None = None, failed: bool = False) -> None:
        """Show what the side is doing; `running=False` ends its answer's stream."""
        self.query_one(".pane-status", Static).update(text, layout=False)
        if running is not None:
            self.set_class(running, "-running")
            if not running:
                self.query_one(StreamingMarkdown).finish()
        self.set_class(failed, "-failed")

    def append(self, delta: str) -> None:
        """Add streamed answer text."""
        self.query_one(StreamingMarkdown).append(delta)

    def show_text(self, text: str) -> None:
        """Replace the answer (used by snapshot tests and when reopening a result)."""
        self.query_one(StreamingMarkdown).update(text)

    @property
    def stats_view(self) -> StatsView:
        """Return the figures the pane shows now."""
        return self.query_one(CompactStats).view

    def show_stats(self, view: StatsView) -> None:
        """Show `view` in the figures line."""
        self.query_one(CompactStats).show(view)
