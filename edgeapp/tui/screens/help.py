"""The help screen: every key binding, read from the app, each mode's screen and the focused widget.

Nothing here is a hand-written list: a binding added to a screen shows up here by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

KeyRow = tuple[str, str]  # (keys as displayed, what they do)


class HelpScreen(ModalScreen[None]):
    """A modal listing the bindings of the whole app; Esc, F1 or ? closes it."""

    BINDINGS = [
        Binding("escape,f1,question_mark,q", "dismiss", "Close help"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static("Keys", id="help-title")
            with VerticalScroll(id="help-body"):
                for title, rows in self.sections():
                    yield Static(_table(title, rows), classes="help-section")
            yield Static(
                "Mouse: click the tabs at the top, table rows, buttons and the keys in the footer. "
                "Ctrl+P opens the command palette. Esc closes this help.",
                id="help-hint",
            )

    def sections(self) -> list[tuple[str, list[KeyRow]]]:
        """Return (section title, rows) for the app, each mode's screen, and the focused widget."""
        from edgeapp.tui.app import SCREENS, screen_class

        app: Any = self.app
        base = {(b.key, b.action) for b in _bindings(Screen._merged_bindings)}
        sections = [("Everywhere", self._rows(_bindings(app._bindings) + _bindings(Screen._merged_bindings)))]
        for mode, (title, _) in SCREENS.items():
            stack = app._screen_stacks.get(mode)
            source = stack[0]._bindings if stack else screen_class(mode)._merged_bindings
            own = [b for b in _bindings(source) if (b.key, b.action) not in base]
            if own:
                sections.append((f"{title} screen", self._rows(own)))
        focused = self._focused_rows()
        if focused is not None:
            sections.append(focused)
        return sections

    def _focused_rows(self) -> tuple[str, list[KeyRow]] | None:
        """Return the bindings of the focused widget (and its containers) on the screen below."""
        stack = self.app.screen_stack
        below = stack[-2] if len(stack) > 1 else None
        widget = below.focused if below is not None else None
        if widget is None:
            return None
        chain = [
            node for node in widget.ancestors_with_self if not isinstance(node, (Screen, type(self.app)))
        ]
        found: list[Binding] = []
        for node in chain:
            found.extend(_bindings(node._bindings))
        rows = self._rows(b for b in found if b.show or b.description)
        return (f"Focused: {type(widget).__name__}", rows) if rows else None

    def _rows(self, bindings: Iterable[Binding]) -> list[KeyRow]:
        """Return one row per action, its keys joined ("f1 / ?"), in the order first seen."""
        keys_by_action: dict[str, list[str]] = {}
        description: dict[str, str] = {}
        for binding in bindings:
            if binding.system:
                continue
            shown = self.app.get_key_display(binding)
            keys = keys_by_action.setdefault(binding.action, [])
            if shown not in keys:
                keys.append(shown)
            text = binding.description or binding.tooltip or _humanize(binding.action)
            if binding.action not in description or (binding.description and binding.show):
                description[binding.action] = text
        return [(" / ".join(keys), description[action]) for action, keys in keys_by_action.items()]


def _bindings(source: BindingsMap | None) -> list[Binding]:
    if source is None:
        return []
    return [binding for bindings in source.key_to_bindings.values() for binding in bindings]


def _humanize(action: str) -> str:
    name = action.split("(", 1)[0].rsplit(".", 1)[-1]
    return name.replace("_", " ").capitalize()


def _table(title: str, rows: list[KeyRow]) -> Table:
    table = Table(
        title=Text(title, style="bold"), title_justify="left", show_header=False, box=None, expand=True
    )
    table.add_column("key", style="bold", width=18, no_wrap=True)
    table.add_column("action", ratio=1)
    for keys, text in rows:
        table.add_row(keys, text)
    return table
