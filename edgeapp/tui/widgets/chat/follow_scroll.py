"""A vertical scroll that follows its content's end once the content overflows it."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size


class FollowScroll(VerticalScroll):
    """Stays scrolled to the bottom while content grows, until the user scrolls up.

    Textual's anchor keeps the bottom in view during layout at no extra cost, but an anchored
    container also pushes short content to its bottom edge; so it is anchored only once the
    content overflows, which is noticed when the virtual size changes (a layout pass that
    happens anyway), not on every streamed update.
    """

    def watch_virtual_size(self, size: Size) -> None:
        if not self.is_anchored and size.height > self.container_size.height:
            self.call_later(self.follow)

    def follow(self) -> None:
        """Anchor to the bottom if the content overflows the view."""
        if not self.is_anchored and self.virtual_size.height > self.container_size.height:
            self.anchor()
