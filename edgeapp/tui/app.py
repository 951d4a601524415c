"""The edgeapp Textual app: five modes (hardware, models, downloads, chat, compare) over one AppState.

Screens are imported when their mode is first shown, so the first frame only pays for the
hardware screen; llama_cpp, numpy, huggingface_hub and gguf are never imported here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from edgeapp.errors import EdgeappError
from edgeapp.tui.messages import HardwareChanged, LocalModelOpened, ModelSelected, SettingsChanged
from edgeapp.tui.state import AppState

if TYPE_CHECKING:
    from textual.screen import Screen

    from edgeapp.backend_info import BackendInfo
    from edgeapp.hardware import HardwareInfo
    from edgeapp.settings import Settings

# mode -> (title, "module:Class"); the order is the order of the header's tabs.
SCREENS: dict[str, tuple[str, str]] = {
    "hardware": ("Hardware", "edgeapp.tui.screens.hardware:HardwareScreen"),
    "models": ("Models", "edgeapp.tui.screens.models:ModelsScreen"),
    "downloads": ("Downloads", "edgeapp.tui.screens.download:DownloadScreen"),
    "chat": ("Chat", "edgeapp.tui.screens.chat:ChatScreen"),
    "compare": ("Compare", "edgeapp.tui.screens.compare:CompareScreen"),
}


def screen_class(mode: str) -> type[Screen[Any]]:
    """Return the screen class of a mode, importing its module on first use."""
    module, _, name = SCREENS[mode][1].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _factory(mode: str) -> Callable[[], Screen[Any]]:
    def make() -> Screen[Any]:
        return screen_class(mode)()

    make.__name__ = f"make_{mode}_screen"
    return make


class EdgeApp(App[int]):
    """Pick, download, chat with and compare quantized GGUF models on this machine."""

    TITLE = "edgeapp"
    # Absolute, so subclasses defined elsewhere (tests, scripts) find it too.
    CSS_PATH = Path(__file__).with_name("edgeapp.tcss")
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {m: _factory(m) for m in SCREENS}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "h,f2", "switch_mode('hardware')", "Hardware", tooltip="RAM, CPU, GPUs and the recommendation"
        ),
        Binding(
            "m,f3", "switch_mode('models')", "Models", tooltip="The catalog with fit badges and estimates"
        ),
        Binding("d,f4", "switch_mode('downloads')", "Downloads", tooltip="Download a model from the hub"),
        Binding("c,f5", "switch_mode('chat')", "Chat", tooltip="Chat with the selected model"),
        Binding("k,f6", "switch_mode('compare')", "Compare", tooltip="Compare two quants side by side"),
        Binding("f1", "help", "Help", tooltip="Show every key binding"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "quit", "Quit", show=False, tooltip="Quit (when no text box has focus)"),
    ]
    COMMANDS = App.COMMANDS | {lambda: _edge_commands()}

    selected_ref: reactive[str] = reactive("default", init=False)
    """The selected model's REF (mirrors app.state.selected_ref; watch it to follow selections)."""
    hardware: reactive[HardwareInfo | None] = reactive(None, init=False)
    """What is known about the machine (mirrors app.state.hardware)."""
    settings: reactive[Settings | None] = reactive(None, init=False)
    """The user's settings (mirrors app.state.settings)."""
    backend: reactive[BackendInfo | None] = reactive(None, init=False)
    """llama.cpp's build facts once known (mirrors app.state.backend)."""

    def __init__(self, state: AppState | None = None, *, start_mode: str = "hardware") -> None:
        if start_mode not in SCREENS:
            raise ValueError(f"unknown mode {start_mode!r}; one of {', '.join(SCREENS)}")
        # App.__init__ starts in DEFAULT_MODE; starting straight in the wanted mode spares a blank frame.
        self.DEFAULT_MODE = start_mode  # type: ignore[misc]
        super().__init__()
        self.state = state if state is not None else AppState.probe()
        self.state.attach(self)
        self.set_reactive(EdgeApp.selected_ref, self.state.selected_ref)
        self.set_reactive(EdgeApp.hardware, self.state.hardware)
        self.set_reactive(EdgeApp.settings, self.state.settings)
        self.set_reactive(EdgeApp.backend, self.state.backend)
        if self.state.settings.theme in self.available_themes:
            self.theme = self.state.settings.theme
        self.sub_title = self._hardware_line()

    def _hardware_line(self) -> str:
        from edgeapp.hardware import probe_summary

        return probe_summary(self.state.hardware)

    def on_mount(self) -> None:
        # Background work starts once the first frame is on screen: a thread holding the GIL while
        # Textual lays out the first screen delays that frame by a third of a second.
        self.call_after_refresh(self._start_background_work)

    def _start_background_work(self) -> None:
        if self.state.backend is None:
            self._probe_backend()
        self._check_catalog()

    # -- background facts ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="backend-info", exit_on_error=False)
    def _probe_backend(self) -> None:
        """Ask llama.cpp (in a subprocess, cached on disk) what it can do, after the first frame."""
        from edgeapp.backend_info import backend_info

        info = backend_info()
        self.call_from_thread(self.state.set_backend, info)

    @work(thread=True, group="catalog", exit_on_error=False)
    def _check_catalog(self) -> None:
        self.state.catalog  # noqa: B018 - loads it, noting a broken user catalog
        if self.state.catalog_error is not None:
            self.notify(
                f"{self.state.catalog_error} (using the built-in catalog until it is fixed)",
                title="User catalog ignored",
                severity="warning",
                timeout=15,
            )

    # -- state mirrors -----------------------------------------------------------------------------

    @on(ModelSelected)
    def _model_selected(self, message: ModelSelected) -> None:
        self.selected_ref = message.ref

    @on(SettingsChanged)
    def _settings_changed(self) -> None:
        self.settings = self.state.settings

    @on(HardwareChanged)
    def _hardware_changed(self) -> None:
        self.hardware = self.state.hardware
        self.backend = self.state.backend
        self.sub_title = self._hardware_line()

    @on(LocalModelOpened)
    def _local_model_opened(self, message: LocalModelOpened) -> None:
        self.notify(f"Opened {message.path.name}", title="Local model")

    def watch_theme(self, theme: str) -> None:
        self.state.update_settings(theme=theme)

    # -- actions -----------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the help screen (or close it when it is already showing)."""
        from edgeapp.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen())

    def action_open_model_file(self) -> None:
        """Ask for the path of a local .gguf, check its header, add it to the models and select it."""
        from edgeapp.tui.screens.open_file import OpenFileScreen

        def opened(path: Path | None) -> None:
            if path is not None:
                self.state.add_local_model(path)
                self.state.select_model(str(path))

        self.push_screen(OpenFileScreen(), opened)

    def action_select_model(self, ref: str) -> None:
        """Make `ref` the selected model."""
        self.state.select_model(ref)
        self.notify(f"Selected {ref}", title="Model", timeout=3)

    def action_set_theme(self, name: str) -> None:
        """Switch to theme `name` (saved in settings by watch_theme)."""
        self.theme = name

    async def action_download(self, ref: str = "") -> None:
        """Open the downloads screen with `ref` (catalog-id[:QUANT]) chosen."""
        await self.switch_mode("downloads")
        if ref and hasattr(self.screen, "choose"):
            self.screen.choose(ref)

    async def action_run_in_mode(self, mode: str, action: str) -> None:
        """Switch to `mode` and run one of its screen's actions (the command palette's entries)."""
        await self.switch_mode(mode)
        await self.screen.run_action(action)

    def report_error(self, error: BaseException, title: str = "Error") -> None:
        """Show a failure as an error notification (EdgeappError messages say what to do)."""
        message = str(error) if isinstance(error, EdgeappError) else f"{type(error).__name__}: {error}"
        self.notify(message, title=title, severity="error", timeout=12)


def _edge_commands() -> type[Any]:
    from edgeapp.tui.commands import EdgeCommands

    return EdgeCommands
