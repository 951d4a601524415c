"""One chat message: who said it, the text as Markdown (streamed into while it arrives), a footnote."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static

from edgeapp.tui.widgets.markdown.streaming_markdown import StreamingMarkdown


class MessageView(Vertical):
    """A message in the chat log; assistant replies grow with `append` while they stream."""

    DEFAULT_CSS = """
    MessageView { height: auto; margin: 0 1 1 0; padding: 0 1; }
    MessageView > .message-role { color: $text-muted; text-style: bold; }
    MessageView.-user { background: $boost; border-left: tall $accent; }
    MessageView.-assistant { border-left: tall $primary; }
    MessageView.-system { border-left: tall $warning 50%; color: $text-muted; }
    MessageView > .message-note { color: $text-muted; height: auto; }
    MessageView > .message-note.-empty { display: none; }
    MessageView.-error > .message-note { color: $error; }
    """

    def __init__(self, role: str, text: str = "", *, label: str | None = None, note: str = "") -> None:
        super().__init__(classes=f"-{role}")
        self.role = role
        self._body = StreamingMarkdown(text)
        self._note = note
        self.label = label or {"user": "You", "assistant": "Assistant", "system": "System"}.get(role, role)

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="message-role")
        yield self._body
        yield Static(self._note, classes="message-note" + ("" if self._note else " -empty"))

    @property
    def text(self) -> str:
        """Return the message's text (all of it so far, while it streams)."""
        return self._body.text

    @property
    def body(self) -> StreamingMarkdown:
        """Return the widget that renders the text."""
        return self._body

    def append(self, delta: str) -> None:
        """Add streamed text at the end (shown as Markdown block by block)."""
        self.body.append(delta)

    def finish(self) -> None:
        """The stream ended: render all of the text as Markdown."""
        self.body.finish()

    def note(self, text: str, *, error: bool = False) -> None:
        """Show a footnote under the message (its figures, or why it stopped)."""
        self.set_class(error, "-error")
        note = self.query_one(".message-note", Static)
        note.update(text)
        note.set_class(not text, "-empty")
