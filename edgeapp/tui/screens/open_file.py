"""A dialog that asks for the path of a local .gguf file and checks its header before accepting it."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Static

from edgeapp.errors import EdgeappError


class PathSuggester(Suggester):
    """Completes the last part of a path from the directory's entries (.gguf files and folders)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        folder, _, prefix = value.rpartition(os.sep)
        directory = Path(folder or ".").expanduser()
        try:
            names = sorted(entry.name for entry in os.scandir(directory) if _worth_suggesting(entry))
        except OSError:
            return None
        for name in names:
            if name.startswith(prefix) and name != prefix:
                suffix = os.sep if (directory / name).is_dir() else ""
                return f"{folder}{os.sep if folder or value.startswith(os.sep) else ''}{name}{suffix}"
        return None


def _worth_suggesting(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return False
    return entry.is_dir() or entry.name.lower().endswith(".gguf")


class OpenFileScreen(ModalScreen[Path | None]):
    """Returns the checked path, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="open-dialog"):
            yield Static("Open a local .gguf file", id="open-title")
            yield Input(
                placeholder="/path/to/model.gguf  (Tab completes)", id="open-path", suggester=PathSuggester()
            )
            yield Static("The file's header is checked before it is added to the models.", id="open-status")
            with Horizontal(id="open-buttons"):
                yield Button("Open", variant="primary", id="open-ok")
                yield Button("Cancel", id="open-cancel")

    @on(Input.Submitted, "#open-path")
    @on(Button.Pressed, "#open-ok")
    def _submit(self) -> None:
        text = self.query_one("#open-path", Input).value.strip()
        if not text:
            self._show_error("Type the path of a .gguf file.")
            return
        self.query_one("#open-status", Static).update("checking the header…")
        self._check(text)

    @on(Button.Pressed, "#open-cancel")
    def action_cancel(self) -> None:
        """Close without opening anything."""
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="open-file", exit_on_error=False)
    def _check(self, text: str) -> None:
        from edgeapp.gguf_file import read_header

        path = Path(text).expanduser()
        try:
            if not path.exists():
                raise FileNotFoundError(f"no such file: {path}")
            if path.is_dir():
                raise IsADirectoryError(f"{path} is a folder; give the path of a .gguf file inside it")
            header = read_header(path)
        except (EdgeappError, OSError) as error:
            self.app.call_from_thread(
                self._show_error, str(error) if isinstance(error, EdgeappError) else error.args[-1]
            )
            return
        self.app.call_from_thread(self._accepted, path.resolve(), header.quant_label(), header.architecture)

    def _show_error(self, message: str) -> None:
        self.query_one("#open-status", Static).update(f"[$error]{_escape(message)}[/]")
        self.notify(message, title="Cannot open this file", severity="error", timeout=10)

    def _accepted(self, path: Path, quant: str, architecture: str) -> None:
        self.notify(f"{path.name}: {architecture}, {quant}", title="Header checked", timeout=4)
        self.dismiss(path)


def _escape(text: str) -> str:
    from textual.markup import escape

    return escape(text)
