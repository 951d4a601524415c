"""The header every screen shows: clickable mode tabs, the selected model, and the machine in one line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static


class ModeTab(Static):
    """One tab of the header; a click switches to its mode."""

    def __init__(self, mode: str, title: str, key: str) -> None:
        super().__init__(f"[b]{key}[/b] {title}", id=f"tab-{mode}", classes="mode-tab", markup=True)
        self.mode = mode
        self.tooltip = f"{title} (key {key})"

    async def on_click(self, event: events.Click) -> None:
        event.stop()
        await self.app.run_action(f"switch_mode({self.mode!r})")


class AppHeader(Widget):
    """Mode tabs and the selected model on the first line, the hardware summary on the second.

    Follows `app.selected_ref`, `app.hardware` and the current mode on its own, so a screen only
    has to `yield AppHeader()`.
    """

    def compose(self) -> ComposeResult:
        from edgeapp.tui.app import SCREENS

        keys = _mode_keys(self.app)
        with Horizontal(id="header-top"):
            yield Static("edgeapp", id="header-brand")
            for mode, (title, _) in SCREENS.items():
                yield ModeTab(mode, title, keys.get(mode, ""))
            yield Static(_model_text(getattr(self.app, "selected_ref", "default")), id="header-model")
        yield Static(_hardware_text(getattr(self.app, "hardware", None)), id="header-hardware")

    def on_mount(self) -> None:
        # The first frame already has the text; the watchers only follow changes.
        self.watch(self.app, "selected_ref", self._show_model, init=False)
        self.watch(self.app, "hardware", self._show_hardware, init=False)
        self.app.mode_change_signal.subscribe(self, self._show_mode)
        self._show_mode(self.app.current_mode)

    def _show_mode(self, mode: str) -> None:
        for tab in self.query(ModeTab):
            tab.set_class(tab.mode == mode, "-active")

    def _show_model(self, ref: str) -> None:
        self.query_one("#header-model", Static).update(_model_text(ref))

    def _show_hardware(self, hardware: Any) -> None:
        self.query_one("#header-hardware", Static).update(_hardware_text(hardware))


def _model_text(ref: str) -> str:
    return f"model [b]{_escape(model_label(ref))}[/b]"


def _hardware_text(hardware: Any) -> str:
    from edgeapp.hardware import probe_summary

    return _escape(probe_summary(hardware) if hardware is not None else "probing hardware…")


def model_label(ref: str) -> str:
    """Return how the header names a REF: a local file by its name, anything else as typed."""
    # The same test as edgeapp.refs.looks_like_path minus the disk check, which a label does not need.
    if ref.lower().endswith(".gguf") or "/" in ref or os.sep in ref or ref.startswith((".", "~")):
        return Path(ref).name
    return ref


def _mode_keys(app: Any) -> dict[str, str]:
    """Return {mode: key} from the app's own bindings, so the tabs never disagree with them."""
    keys: dict[str, str] = {}
    for key, bindings in app._bindings.key_to_bindings.items():
        for binding in bindings:
            if binding.action.startswith("switch_mode("):
                mode = binding.action[len("switch_mode(") : -1].strip("'\"")
                keys.setdefault(mode, key)
    return keys


def _escape(text: str) -> str:
    from textual.markup import escape

    return escape(text)
