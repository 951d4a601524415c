"""A dialog for the chat settings: system prompt, sampling, max tokens, context size, GPU layers."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from edgeapp.settings import Settings, parse_gpu_layers

# (settings field, label, parse) for the one-line fields, in display order
_FIELDS: tuple[tuple[str, str], ...] = (
    ("temperature", "Temperature"),
    ("top_p", "Top p"),
    ("seed", "Seed"),
    ("max_tokens", "Max tokens"),
    ("n_ctx", "Context size"),
    ("gpu_layers", "GPU layers"),
)

RELOADING_FIELDS = frozenset({"n_ctx", "gpu_layers", "threads"})


def parse_setting(name: str, text: str) -> Any:
    """Return the value of settings field `name` typed as `text`; ValueError says what is wrong."""
    text = text.strip()
    try:
        if name == "temperature":
            value: Any = float(text)
            if not 0 <= value <= 5:
                raise ValueError
        elif name == "top_p":
            value = float(text)
            if not 0 < value <= 1:
                raise ValueError
        elif name in ("seed", "max_tokens", "n_ctx"):
            value = int(text)
            low = {"seed": 0, "max_tokens": 1, "n_ctx": 128}[name]
            if value < low:
                raise ValueError
        elif name == "gpu_layers":
            parsed = parse_gpu_layers(text)
            value = "all" if parsed == -1 else str(parsed)
        else:
            value = text
    except ValueError as error:
        hints = {
            "temperature": "a number from 0 to 5",
            "top_p": "a number above 0, at most 1",
            "seed": "a whole number, 0 or more",
            "max_tokens": "a whole number, 1 or more",
            "n_ctx": "a whole number of tokens, 128 or more",
            "gpu_layers": "auto, all or a number of layers",
        }
        detail = str(error) if name == "gpu_layers" and str(error) else hints.get(name, "a valid value")
        raise ValueError(f"{dict(_FIELDS).get(name, name)}: {detail}") from None
    return value


class ChatSettingsScreen(ModalScreen[dict[str, Any] | None]):
    """Edit the chat settings; dismisses with the changed fields, or None when cancelled."""

    DEFAULT_CSS = """
    ChatSettingsScreen { align: center middle; }
    ChatSettingsScreen > Vertical {
        width: 72; height: auto; max-height: 90%;
        border: thick $primary 60%; background: $surface; padding: 1 2;
    }
    ChatSettingsScreen .settings-title { text-style: bold; margin-bottom: 1; }
    ChatSettingsScreen TextArea { height: 5; margin-bottom: 1; }
    ChatSettingsScreen Grid { grid-size: 2; grid-columns: 16 1fr; grid-rows: 1; height: auto; grid-gutter: 0 1; }
    ChatSettingsScreen Grid > Label { padding: 0 0; }
    ChatSettingsScreen .settings-hint { color: $text-muted; margin-top: 1; }
    ChatSettingsScreen #settings-error { color: $error; height: auto; }
    ChatSettingsScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ChatSettingsScreen Button { margin-left: 1; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Chat settings", classes="settings-title")
            yield Label("System prompt")
            yield TextArea(self.settings.system_prompt, id="settings-system_prompt", soft_wrap=True)
            with Grid():
                for name, label in _FIELDS:
                    yield Label(label)
                    yield Input(str(getattr(self.settings, name)), id=f"settings-{name}", compact=True)
            yield Static(
                "Changing the context size or GPU layers reloads the model.", classes="settings-hint"
            )
            yield Static("", id="settings-error")
            with Horizontal():
                yield Button("Cancel", id="settings-cancel")
                yield Button("Save", id="settings-save", variant="primary")

    def changes(self) -> dict[str, Any]:
        """Return the fields whose value differs from the settings; ValueError for a bad one."""
        values: dict[str, Any] = {"system_prompt": self.query_one("#settings-system_prompt", TextArea).text}
        for name, _ in _FIELDS:
            values[name] = parse_setting(name, self.query_one(f"#settings-{name}", Input).value)
        return {name: value for name, value in values.items() if getattr(self.settings, name) != value}

    @on(Button.Pressed, "#settings-save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        try:
            changes = self.changes()
        except ValueError as error:
            self.query_one("#settings-error", Static).update(str(error))
            return
        self.dismiss(changes)

    @on(Button.Pressed, "#settings-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
