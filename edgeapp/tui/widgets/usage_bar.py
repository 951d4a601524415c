"""A labelled memory bar: used vs available of a total, drawn with block characters."""

from __future__ import annotations

from rich.text import Text
from textual.color import Color
from textual.reactive import reactive
from textual.widget import Widget

from edgeapp.units import format_bytes


def bar_text(used_bytes: int, total_bytes: int, width: int, *, style: str, empty_style: str) -> Text:
    """Return a bar `width` cells wide with the used fraction filled, in eighths of a cell."""
    fraction = min(max(used_bytes / total_bytes, 0.0), 1.0) if total_bytes > 0 else 0.0
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    filled = "█" * full + partial
    return Text.assemble((filled, style), ("█" * (width - len(filled)), empty_style))


class UsageBar(Widget):
    """`label  ███████░░░░  5.2 GiB used · 2.8 GiB available of 8.0 GiB`.

    The bar's colour follows how full it is (success, warning over 75%, error over 90%).
    """

    DEFAULT_CSS = """
    UsageBar { height: 1; width: 1fr; }
    """

    used_bytes: reactive[int] = reactive(0)
    total_bytes: reactive[int] = reactive(0)

    def __init__(
        self, label: str, used_bytes: int = 0, total_bytes: int = 0, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self.set_reactive(UsageBar.used_bytes, used_bytes)
        self.set_reactive(UsageBar.total_bytes, total_bytes)

    def set_usage(self, used_bytes: int, total_bytes: int) -> None:
        """Show new figures."""
        self.used_bytes, self.total_bytes = used_bytes, total_bytes

    def render(self) -> Text:
        used, total = self.used_bytes, self.total_bytes
        available = max(total - used, 0)
        fraction = used / total if total else 0.0
        variables = self.app.theme_variables
        colour = (
            variables["success"]
            if fraction < 0.75
            else variables["warning"]
            if fraction < 0.9
            else variables["error"]
        )
        figures = (
            f"  {format_bytes(used)} used · {format_bytes(available)} available of {format_bytes(total)}"
        )
        label = f"{self.label:<6}"
        bar_width = max(self.size.width - len(label) - len(figures), 8)
        # The free part: a faint shade of the text colour, visible on dark and light themes alike.
        free = Color.parse(variables["background"]).blend(Color.parse(variables["foreground"]), 0.15).hex
        bar = bar_text(used, total, bar_width, style=colour, empty_style=free)
        return Text.assemble((label, "bold"), bar, figures)
