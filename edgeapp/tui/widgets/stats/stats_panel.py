"""The chat screen's stats panel: speed with a sparkline, latency, tokens, engine memory and CPU."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from edgeapp.tui.widgets.stats.stats_view import (
    StatsView,
    fmt_bytes,
    fmt_cpu,
    fmt_seconds,
    fmt_tps,
    fmt_vram,
)

NAME_WIDTH = 11
REDRAW_INTERVAL_S = 0.2  # figures nobody can read faster than this: 5 redraws a second at most


def rows_text(rows: list[tuple[str, str]], width: int) -> Text:
    """Return "name      value" lines, names dim and values right-aligned to `width` cells."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (name, value) in enumerate(rows):
        if index:
            text.append("\n")
        text.append(name.ljust(NAME_WIDTH), "dim")
        text.append(value.rjust(max(width - NAME_WIDTH, 0)))
    return text


class StatsPanel(Vertical):
    """Shows a `StatsView`; `show(view)` as often as you like: it redraws at most 5 times a second
    (a final view at once), and only the sections whose figures changed."""

    DEFAULT_CSS = """
    StatsPanel {
        width: 36;
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text-accent;
        padding: 0 1;
    }
    StatsPanel > .stats-section { margin-bottom: 1; }
    StatsPanel > #stats-model { height: 2; }
    StatsPanel > #stats-figures, StatsPanel > #stats-engine { height: 3; }
    StatsPanel > #stats-speed { height: 1; text-style: bold; }
    StatsPanel > Sparkline { height: 2; margin-bottom: 1; }
    """

    def __init__(self, view: StatsView | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view or StatsView()
        self.border_title = "Stats"
        self._drawn: dict[str, object] = {}
        self._drawn_at = 0.0
        self._pending = False

    def compose(self) -> ComposeResult:
        yield Static(id="stats-model", classes="stats-section")
        yield Static(id="stats-speed")
        yield Sparkline([], id="stats-sparkline")
        yield Static(id="stats-figures", classes="stats-section")
        yield Static(id="stats-engine", classes="stats-section")

    def on_mount(self) -> None:
        self.set_interval(REDRAW_INTERVAL_S, self._redraw_pending)
        self._draw(self.view)

    def on_resize(self) -> None:
        self._drawn.clear()
        self._draw(self.view)

    def show(self, view: StatsView) -> None:
        """Display `view` (at once when it is final, else within REDRAW_INTERVAL_S)."""
        if view == self.view:
            return
        self.view = view
        if view.final or time.monotonic() - self._drawn_at >= REDRAW_INTERVAL_S:
            self._draw(view)
        else:
            self._pending = True

    def _redraw_pending(self) -> None:
        # While views keep coming (a reply streaming), `show` draws them in the frame that redraws
        # the reply anyway; a draw from this timer would be a frame of its own.
        if self._pending and time.monotonic() - self._drawn_at >= 2 * REDRAW_INTERVAL_S:
            self._draw(self.view)

    def _draw(self, view: StatsView) -> None:
        self._pending = False
        self._drawn_at = time.monotonic()
        width = max(self.content_size.width, 20)
        ttft = fmt_seconds(view.ttft_s)
        if view.ttft_s is not None and not view.final:
            ttft = "~" + ttft  # parent-side estimate until the engine's figure arrives
        sections: dict[str, object] = {
            "#stats-model": [("Model", view.model_label), ("GPU layers", view.gpu_layers)],
            "#stats-speed": [("Generation", fmt_tps(view.gen_tps))],
            "#stats-figures": [
                ("TTFT", ttft),
                ("Prompt", fmt_tps(view.prompt_tps)),
                ("Tokens", "—" if view.tokens is None else str(view.tokens)),
            ],
            "#stats-engine": [
                ("Engine RSS", fmt_bytes(view.rss_bytes)),
                ("VRAM", fmt_vram(view)),
                ("CPU", fmt_cpu(view.cpu_percent)),
            ],
        }
        for selector, rows in sections.items():
            if self._drawn.get(selector) != (rows, width):
                self._drawn[selector] = (rows, width)
                # Fixed heights: a redraw repaints the panel without a layout pass over the screen.
                self.query_one(selector, Static).update(rows_text(rows, width), layout=False)  # type: ignore[arg-type]
        if self._drawn.get("rates") != view.rates:
            self._drawn["rates"] = view.rates
            self.query_one("#stats-sparkline", Sparkline).data = list(view.rates)
