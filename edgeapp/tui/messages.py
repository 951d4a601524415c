"""Messages the shell posts to the app when shared state changes.

`AppState` posts them; `EdgeApp` handles them and mirrors the new values into its reactive
attributes (`selected_ref`, `hardware`, `settings`), which any widget on any screen can watch
with `self.watch(self.app, "selected_ref", callback)`.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message


class ModelSelected(Message):
    """The user selected a model; `ref` is a REF (`default`, `qwen2.5-0.5b-instruct:Q4_K_M`, a path)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__()


class SettingsChanged(Message):
    """`app.state.settings` was replaced (and saved)."""


class HardwareChanged(Message):
    """`app.state.hardware` was replaced (llama.cpp's GPU offload support arrived, or a re-probe)."""


class LocalModelOpened(Message):
    """A local .gguf file passed its header check and was added to `app.state.local_models`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__()
