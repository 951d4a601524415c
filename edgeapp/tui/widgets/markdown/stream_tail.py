"""The unfinished last block of a streaming reply, as plain soft-wrapped text that is cheap to redraw."""

from __future__ import annotations

import time

from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from edgeapp.tui.text_wrap import wrap_offsets

MIN_SPARE_LINES = 3
STEP_INTERVAL_S = 1.0  # the room grows by about this much time's worth of text at once


class StreamTail(Widget):
    """Plain text that grows on every streamed update, redrawn as cheaply as Textual allows.

    What costs is a change of height: it re-lays-out the screen and, with the conversation
    scrolled to its end, scrolls and repaints the whole log (~25-50 ms on a small machine). So
    the tail keeps spare blank lines below its text, enough for about STEP_INTERVAL_S of text at
    the rate it arrives (at least MIN_SPARE_LINES, at most a third of the screen), and grows only
    when they are used up. Between those steps an update re-wraps only the text after the last
    line it already wrapped and repaints only the lines that changed (~1 ms).
    """

    DEFAULT_CSS = """
    StreamTail { height: auto; width: 1fr; }
    StreamTail.-empty { display: none; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes="-empty" if classes is None else f"-empty {classes}")
        self._text = ""
        self._lines: list[tuple[int, int]] = []  # (start, end) of each wrapped line in _text
        self._width = 0  # the width _lines were wrapped at (0: not wrapped yet)
        self._grown_lines = 0  # lines appended since the last step
        self._stepped_at: float | None = None  # when the room last grew

    @property
    def text(self) -> str:
        """Return the text shown."""
        return self._text

    @property
    def lines(self) -> list[str]:
        """Return the text as it is wrapped on screen (empty until the tail has a width)."""
        return [self._text[start:end] for start, end in self._lines]

    @property
    def room(self) -> int | None:
        """Return the lines the tail holds for its text (None while its height is automatic)."""
        height = self.styles.height
        return int(height.value) if height is not None and height.is_cells else None

    def show(self, text: str, *, grow: bool = True) -> bool:
        """Show `text`, repainting only the lines that changed; return False if it needs more room.

        It gets the room (a layout pass) at once if `grow`, else only once `fit` is called: the
        caller may have a layout pass coming anyway. An empty text keeps the room in place (the
        next block starts there); `hide` removes it.
        """
        text = text.replace("\t", "    ").replace("\r", "")
        old, self._text = self._text, text
        if text == old:
            return True
        if self.has_class("-empty"):
            self.set_class(False, "-empty")  # display again: a layout pass
        if not self._width:
            self.refresh(layout=True)
            return True  # wrapped when the first resize tells the width
        before = len(self._lines)
        if text.startswith(old) and self._lines:
            # Lines before the last one are final: appending only changes the last line or adds more.
            first = before - 1
            self._lines[first:] = wrap_offsets(text, self._width, self._lines[first][0])
            self._grown_lines += len(self._lines) - before
        else:
            first = 0
            self._lines = wrap_offsets(text, self._width)
        if grow and self.fit():
            return True
        self.refresh(Region(0, first, self._width, max(len(self._lines), 1) - first))
        room = self.room
        return room is not None and len(self._lines) <= room

    def hide(self) -> None:
        """Show nothing and take no room."""
        self._text, self._lines = "", []
        self._grown_lines, self._stepped_at = 0, None
        self.styles.height = None
        self.set_class(True, "-empty")

    def fit(self) -> bool:
        """Make room for the text and spare lines if it outgrew its room or left too much; True if so."""
        room, lines = self.room, max(len(self._lines), 1)
        if room is not None and lines <= room <= lines + self._max_spare():
            return False
        self.styles.height = lines + self._spare()  # a layout pass and a repaint
        return True

    def _spare(self) -> int:
        """Return the spare lines for the next step: about STEP_INTERVAL_S of text at its recent rate."""
        now = time.monotonic()
        spare = MIN_SPARE_LINES
        if self._stepped_at is not None and now > self._stepped_at:
            rate = self._grown_lines / (now - self._stepped_at)
            spare = min(max(round(rate * STEP_INTERVAL_S), MIN_SPARE_LINES), self._max_spare())
        self._stepped_at, self._grown_lines = now, 0
        return spare

    def _max_spare(self) -> int:
        return max(MIN_SPARE_LINES, self.app.size.height // 3)

    def on_resize(self) -> None:
        width = self.content_size.width
        if width and width != self._width:
            self._width = width
            self._lines = wrap_offsets(self._text, width)
            self.fit()
            self.refresh()

    def render_line(self, y: int) -> Strip:
        style = self.visual_style.rich_style
        if y >= len(self._lines):
            return Strip.blank(self.size.width, style)
        start, end = self._lines[y]
        return Strip([Segment(self._text[start:end], style)]).adjust_cell_length(self.size.width, style)
