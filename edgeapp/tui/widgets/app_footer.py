"""The footer every screen shows: Textual's Footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class AppFooter(Footer):
    """Footer that skips rebuilding itself when focus moves but the shown keys stay the same.

    Textual's Footer recreates all its keys on every focus change; at start-up that happens three
    or four times before the first frame, a quarter of a second of CPU on a small board.
    """

    _shown: tuple[Any, ...] | None = None

    def __init__(self, *, compact: bool = True, **kwargs: Any) -> None:
        # Compact: five modes, help and a screen's own keys fit in 120 columns.
        super().__init__(compact=compact, **kwargs)

    def _signature(self) -> tuple[Any, ...]:
        """Return what the footer would show now: key, action, label, enabled, tooltip per binding."""
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.key == self.app.COMMAND_PALETTE_BINDING
        )

    def compose(self) -> Any:
        if self._bindings_ready:
            self._shown = self._signature()
        yield from super().compose()

    async def recompose(self) -> None:
        if self._bindings_ready and self._shown is not None and self._signature() == self._shown:
            return
        await super().recompose()
