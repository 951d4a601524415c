"""The scrolling list of chat messages, anchored to the bottom while a reply streams."""

from __future__ import annotations

from edgeapp.tui.widgets.chat.follow_scroll import FollowScroll
from edgeapp.tui.widgets.chat.message_view import MessageView


class MessageLog(FollowScroll):
    """Holds MessageViews; new ones are mounted at the end and kept in view."""

    DEFAULT_CSS = """
    MessageLog { height: 1fr; padding: 0 0 0 1; scrollbar-gutter: stable; }
    MessageLog > .chat-empty { color: $text-muted; margin: 1 2; }
    """

    def add(self, role: str, text: str = "", *, label: str | None = None, note: str = "") -> MessageView:
        """Mount a message at the end and return it."""
        view = MessageView(role, text, label=label, note=note)
        self.mount(view)
        return view

    def clear(self) -> None:
        """Remove every message."""
        self.anchor(False)
        self.remove_children()

    @property
    def messages(self) -> list[MessageView]:
        """Return the message widgets in order."""
        return list(self.query_children(MessageView))
