"""Markdown that streams in: finished blocks rendered as Markdown, the block still arriving as plain text.

Appending every streamed piece to a Markdown widget re-renders its last block and re-lays-out
the screen on every update (~20-60 ms per update for a long reply on a small machine, so the UI
could only afford to redraw about once a second). Here a Markdown widget changes only when a
block is finished (see `markdown_blocks`), about once per paragraph; the unfinished block is a
`StreamTail` that mostly repaints without a layout pass. When the stream ends, the rest goes into
the Markdown too, so a finished reply is all Markdown.

A long reply is split over several Markdown widgets ("segments") of up to SEGMENT_BLOCKS blocks,
cut only where no block can continue into the next: adding a block then re-arranges one short
segment instead of every block of the reply.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import Vertical
from textual.geometry import Size
from textual.widgets import Markdown

from edgeapp.tui.markdown_blocks import completed_blocks_end, last_block_open
from edgeapp.tui.widgets.markdown.stream_tail import StreamTail

SEGMENT_BLOCKS = 8  # blocks in a Markdown widget before the next block may start a new one


class BlocksMarkdown(Markdown):
    """A Markdown widget whose height is measured without its container's height.

    Textual measures a container of auto-height children by arranging them in a box as tall as
    the container's container, and caches that arrangement by size: while the tail below grows,
    that size changes on every layout pass and every block of the reply would be measured again.
    Markdown blocks have no height relative to their container, so a zero height gives the same
    answer and a cache hit.
    """

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return super().get_content_height(Size(container.width, 0), viewport, width)


class StreamingMarkdown(Vertical):
    """Markdown text that can grow with `append` and be closed with `finish`."""

    DEFAULT_CSS = """
    StreamingMarkdown { height: auto; }
    StreamingMarkdown > Markdown { margin: 0; padding: 0; background: transparent; }
    """

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = text
        self._committed = len(text)  # text[:_committed] is in the Markdown widgets (or on its way)
        self._shown = len(text)  # text[:_shown] is rendered by the Markdown widgets
        self._committing = False
        self._finished = True
        self._generation = 0  # bumped by `update`: a commit of the text before it is dropped
        self._replacing: AwaitComplete | None = None
        self._segments = [BlocksMarkdown(text)]
        self._tail = StreamTail()

    def compose(self) -> ComposeResult:
        yield self._segments[0]
        yield self._tail

    @property
    def text(self) -> str:
        """Return all the text so far."""
        return self._text

    @property
    def streaming(self) -> bool:
        """Return True until `finish` was called and every block is rendered as Markdown."""
        return not self._finished or self._shown < len(self._text)

    @property
    def committing(self) -> bool:
        """Return True while finished blocks are on their way into the Markdown widgets."""
        return self._committing

    @property
    def tail_text(self) -> str:
        """Return the text shown as plain text, not yet as Markdown."""
        return self._tail.text

    @property
    def segments(self) -> list[BlocksMarkdown]:
        """Return the Markdown widgets that hold the finished blocks, in order."""
        return list(self._segments)

    def append(self, delta: str) -> None:
        """Add streamed text to the tail; finished blocks move to the Markdown when the tail outgrows
        its room, so that one layout pass both adds the blocks and makes room for the new text."""
        if not delta:
            return
        self._text += delta
        self._finished = False
        if self._tail.show(self._text[self._shown :], grow=False) or self._committing:
            return  # it fits, or the commit in flight makes room when it lands
        if not self._commit_ready():
            self._tail.fit()  # no finished block to move out of the way: just grow

    def finish(self) -> None:
        """End the stream: the unfinished block is rendered as Markdown too."""
        self._finished = True
        self._commit_ready()

    def update(self, text: str) -> None:
        """Replace the whole text, rendered as Markdown (no stream in progress)."""
        self._generation += 1
        self._text, self._committed, self._shown = text, len(text), len(text)
        self._committing, self._finished = False, True
        for segment in self._segments[1:]:
            segment.remove()
        del self._segments[1:]
        self._replacing = self._segments[0].update(text)
        self._tail.hide()

    def _commit_ready(self) -> bool:
        """Start moving the finished blocks (all the text once finished) to the Markdown; True if any."""
        if self._committing:
            return True  # the commit in flight takes the rest when it ends, if finished
        if not self.is_attached:
            return False  # removed (a new chat) while the reply streamed
        end = len(self._text) if self._finished else completed_blocks_end(self._text, self._committed)
        if end <= self._committed:
            return False
        self._committing = True
        self.run_worker(self._commit(end, self._generation), group="markdown-commit", exit_on_error=False)
        return True

    async def _commit(self, end: int, generation: int) -> None:
        """Add text[_committed:end] to the Markdown, then take it off the tail in the same frame."""
        if self._replacing is not None:
            await self._replacing  # Markdown.append must see the replaced document
            self._replacing = None
        if generation != self._generation:
            return  # `update` replaced the text meanwhile
        start, self._committed = self._committed, end
        chunk = self._text[start:end]
        try:
            # Frames wait for the new blocks to be mounted, so none shows the text twice or not at all.
            with self.app.batch_update():
                segment = self._segments[-1]
                if self._starts_segment(segment, start):
                    segment = BlocksMarkdown()
                    self._segments.append(segment)
                    await self.mount(segment, before=self._tail)
                await segment.append(chunk)
                if generation != self._generation:
                    return
                self._shown = end
                if self._finished and end == len(self._text):
                    self._tail.hide()
                else:
                    self._tail.show(self._text[end:])
        except Exception:
            if generation == self._generation:  # the text stays in the tail; the next commit retries
                self._committed, self._committing = start, False
            raise
        self._committing = False
        if self._finished:
            self._commit_ready()

    def _starts_segment(self, segment: BlocksMarkdown, start: int) -> bool:
        """Return True if text from `start` on should go into a new Markdown widget after `segment`."""
        return (
            len(segment.children) >= SEGMENT_BLOCKS
            and not self._text[start : start + 1].isspace()
            and not last_block_open(self._text, start)
        )
