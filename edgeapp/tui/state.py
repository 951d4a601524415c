"""What every screen of the app shares: settings, the machine, the selected model, the catalog.

One `AppState` lives on `app.state`. Tests build it with injected hardware, settings and llama.cpp
build facts so screens show fixed figures; the app builds it with `AppState.probe()`.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeapp.errors import CatalogError
from edgeapp.settings import Settings, load_settings, save_settings
from edgeapp.tui.messages import HardwareChanged, LocalModelOpened, ModelSelected, SettingsChanged

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode

    from edgeapp.backend_info import BackendInfo
    from edgeapp.catalog import Catalog
    from edgeapp.hardware import HardwareInfo
    from edgeapp.pick import Pick


class AppState:
    """The app's shared state; changes go through its methods, which post messages to the app.

    Args:
        settings: the user's settings (default: `load_settings()`).
        hardware: the machine (tests inject `probe_hardware(root=fixture)`).
        backend: llama.cpp's build facts; None means "not known yet": the app asks `backend_info()`
            in a worker after the first frame and folds its GPU offload support into `hardware`.
        catalog: the model catalog (default: `load_catalog()` on first use).
        save: write settings changes to disk (tests that check saving point EDGEAPP_CONFIG_DIR
            at a temporary directory instead of turning this off).
    """

    def __init__(
        self,
        hardware: HardwareInfo,
        settings: Settings | None = None,
        *,
        backend: BackendInfo | None = None,
        catalog: Catalog | None = None,
        save: bool = True,
    ) -> None:
        self.settings: Settings = settings if settings is not None else load_settings()
        self.hardware: HardwareInfo = hardware
        self.backend: BackendInfo | None = backend
        self.selected_ref: str = self.settings.model_ref or "default"
        self.local_models: list[Path] = []
        self.probed = False  # True when `hardware` describes this machine (AppState.probe)
        self.catalog_error: CatalogError | None = None
        self._catalog = catalog
        self._save = save
        self._app: App[Any] | None = None
        self._picks: dict[tuple[Any, ...], Pick] = {}
        self._lock = threading.Lock()

    @classmethod
    def probe(cls) -> AppState:
        """Return the state for this machine: saved settings, probed hardware (no llama.cpp probe yet).

        The llama.cpp probe is a subprocess on its first run, so it waits for a worker: until then
        GPU offload counts as unsupported.
        """
        from edgeapp.hardware import probe_hardware

        state = cls(probe_hardware(gpu_offload_supported=False))
        state.probed = True
        return state

    def attach(self, app: App[Any]) -> None:
        """Send this state's messages to `app` (EdgeApp calls this)."""
        self._app = app

    def _post(self, message: Any) -> None:
        # post_message is thread-safe, so workers may change the state too.
        if self._app is not None:
            self._app.post_message(message)

    # -- catalog ---------------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """Return the catalog; a broken user catalog falls back to the built-in one (see catalog_error)."""
        if self._catalog is None:
            from edgeapp.catalog import load_catalog

            try:
                self._catalog = load_catalog()
            except CatalogError as error:
                self.catalog_error = error
                self._catalog = load_catalog(user_path=Path("/nonexistent/edgeapp/models.toml"))
        return self._catalog

    # -- changes ---------------------------------------------------------------------------------

    def update_settings(self, **changes: Any) -> Settings:
        """Return the new settings after applying `changes`, saved atomically; posts SettingsChanged."""
        new = replace(self.settings, **changes)
        if new == self.settings:
            return new
        self.settings = new
        if self._save:
            save_settings(new)
        self._post(SettingsChanged())
        return new

    def select_model(self, ref: str) -> None:
        """Make `ref` the selected model (remembered in settings); posts ModelSelected."""
        self.selected_ref = ref
        self.update_settings(model_ref=ref)
        self._post(ModelSelected(ref))

    def set_hardware(self, hardware: HardwareInfo) -> None:
        """Replace what is known about the machine; posts HardwareChanged."""
        if hardware == self.hardware:
            return
        self.hardware = hardware
        self._post(HardwareChanged())

    def set_backend(self, backend: BackendInfo) -> None:
        """Record llama.cpp's build facts and fold its GPU offload support into the hardware."""
        self.backend = backend
        self.hardware = replace(self.hardware, gpu_offload_supported=backend.gpu_offload_supported)
        self._post(HardwareChanged())

    def add_local_model(self, path: Path) -> None:
        """Add a checked local .gguf to the models list (once); posts LocalModelOpened."""
        path = Path(path).resolve()
        if path not in self.local_models:
            self.local_models.append(path)
        self._post(LocalModelOpened(path))

    # -- the picker, memoised: the hardware and models screens ask for the same picks ------------

    def headroom(self) -> Any:
        """Return the picker's Headroom from the settings."""
        from edgeapp.pick import Headroom

        return Headroom(
            min_free_ram_bytes=self.settings.min_free_ram_bytes,
            min_free_ram_fraction=self.settings.min_free_ram_fraction,
        )

    def pick(self, ref: str | None = None, n_ctx: int | None = None) -> Pick:
        """Return the picker's answer for `ref` (default: the selected model) on this machine.

        Slow (it reads GGUF headers and the download cache): call it from a worker. Remembered per
        (ref, n_ctx, hardware, headroom) until `forget_picks()`.
        """
        from edgeapp.pick import pick_quant

        ref = ref or self.selected_ref
        n_ctx = n_ctx or self.settings.n_ctx
        headroom = self.headroom()
        key = (ref, n_ctx, self.hardware, headroom)
        with self._lock:
            cached = self._picks.get(key)
        if cached is not None:
            return cached
        result = pick_quant(ref, self.hardware, n_ctx=n_ctx, headroom=headroom)
        with self._lock:
            self._picks[key] = result
        return result

    def forget_picks(self) -> None:
        """Drop remembered picks (after a download or a removal changes what is on disk)."""
        with self._lock:
            self._picks.clear()


def state_of(node: DOMNode) -> AppState:
    """Return the AppState of the app `node` belongs to (typed, unlike `node.app.state`)."""
    state = getattr(node.app, "state", None)
    if not isinstance(state, AppState):
        raise RuntimeError(f"{type(node.app).__name__} has no AppState; run the screen inside EdgeApp")
    return state
