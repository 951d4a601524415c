"""The first screen: what this machine has, what llama.cpp can do on it, and what to run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from edgeapp.errors import EdgeappError
from edgeapp.tui.state import state_of
from edgeapp.tui.widgets.app_footer import AppFooter
from edgeapp.tui.widgets.app_header import AppHeader, model_label
from edgeapp.tui.widgets.usage_bar import UsageBar
from edgeapp.units import format_bytes

if TYPE_CHECKING:
    from edgeapp.backend_info import BackendInfo
    from edgeapp.hardware import HardwareInfo

UNIFIED_MEMORY_NOTE = (
    "Unified memory: the GPU shares system RAM, so layers offloaded to it and the KV cache come out "
    "of the RAM above; there is no separate VRAM to fill."
)


class HardwareScreen(Screen[None]):
    """RAM, CPU, GPUs, board, llama.cpp's GPU offload, and the recommendation for the selected model."""

    BINDINGS = [
        Binding(
            "r", "refresh_hardware", "Re-probe", tooltip="Probe RAM and GPUs again (free memory changes)"
        ),
    ]

    def compose(self) -> ComposeResult:
        # Everything known now goes into the first frame; watchers only handle later changes.
        state = state_of(self)
        hw = state.hardware
        yield AppHeader()
        with VerticalScroll(id="hw-body"):
            yield _panel("Recommendation", _working(state.selected_ref), "hw-pick", "hw-recommendation")
            with Vertical(id="hw-memory", classes="panel") as panel:
                panel.border_title = "Memory"
                yield UsageBar("RAM", *_ram_usage(hw), id="hw-ram-bar")
                yield Static(_swap_text(hw), id="hw-swap", classes="dim")
            yield _panel("CPU", _cpu_text(hw), "hw-cpu-text")
            with Vertical(id="hw-gpus", classes="panel") as panel:
                panel.border_title = "GPU"
                yield from _gpu_widgets(hw)
            yield _panel("Board", _board_text(hw), "hw-board-text")
            yield _panel("llama.cpp", _backend_text(state.backend), "hw-llama-text")
        yield AppFooter()

    def on_mount(self) -> None:
        app: Any = self.app
        self.watch(app, "hardware", self._show_hardware, init=False)
        self.watch(app, "backend", self._show_backend, init=False)
        self.watch(app, "selected_ref", lambda _: self._recommend(), init=False)
        self.watch(app, "settings", lambda _: self._recommend(), init=False)

    def on_screen_resume(self) -> None:
        # After the frame: the picker's worker would otherwise compete with the first layout.
        self.call_after_refresh(self._recommend)

    # -- facts -------------------------------------------------------------------------------------

    async def _show_hardware(self, hw: HardwareInfo | None) -> None:
        if hw is None:
            return
        self.query_one("#hw-ram-bar", UsageBar).set_usage(*_ram_usage(hw))
        self.query_one("#hw-swap", Static).update(_swap_text(hw))
        self.query_one("#hw-cpu-text", Static).update(_cpu_text(hw))
        self.query_one("#hw-board-text", Static).update(_board_text(hw))
        panel = self.query_one("#hw-gpus", Vertical)
        await panel.remove_children()  # before mounting: the new widgets reuse the ids
        await panel.mount_all(list(_gpu_widgets(hw)))
        self._recommend()  # free memory and GPU offload support change the verdict

    def _show_backend(self, backend: BackendInfo | None) -> None:
        self.query_one("#hw-llama-text", Static).update(_backend_text(backend))

    # -- recommendation ----------------------------------------------------------------------------

    def _recommend(self) -> None:
        self.query_one("#hw-pick", Static).update(_working(state_of(self).selected_ref))
        self._pick_worker()

    @work(thread=True, exclusive=True, group="hw-pick", exit_on_error=False)
    def _pick_worker(self) -> None:
        state = state_of(self)
        ref = state.selected_ref
        try:
            reason = state.pick(ref).reason
        except Exception as error:  # noqa: BLE001 - any failure is shown in the panel, the app stays up
            message = str(error) if isinstance(error, EdgeappError) else f"{type(error).__name__}: {error}"
            text = f"[b]{escape(model_label(ref))}[/b]: [$error]{escape(message)}[/]"
        else:
            text = f"[b]{escape(model_label(ref))}[/b]: {escape(reason)}"
        self.app.call_from_thread(self.query_one("#hw-pick", Static).update, text)

    def action_refresh_hardware(self) -> None:
        """Probe the machine again (free RAM and VRAM change while other programs run)."""
        self._reprobe()

    @work(thread=True, exclusive=True, group="hw-probe", exit_on_error=False)
    def _reprobe(self) -> None:
        from edgeapp.hardware import probe_hardware

        state = state_of(self)
        if not state.probed:
            self.app.call_from_thread(self.notify, "This hardware was given to the app; nothing to re-probe")
            return
        fresh = probe_hardware(gpu_offload_supported=state.hardware.gpu_offload_supported)
        self.app.call_from_thread(state.set_hardware, fresh)
        self.app.call_from_thread(self.notify, "Hardware probed again", timeout=3)


# -- text for each panel ---------------------------------------------------------------------------


def _panel(title: str, text: str, id: str, *classes: str) -> Static:
    """Return a bordered, titled panel holding one text (one widget where a container would be two)."""
    panel = Static(text, id=id, classes=" ".join(("panel", *classes)))
    panel.border_title = title
    return panel


def _working(ref: str) -> str:
    return f"[b]{escape(model_label(ref))}[/b]: working out the best quant…"


def _ram_usage(hw: HardwareInfo) -> tuple[int, int]:
    return hw.ram.total_bytes - hw.ram.available_bytes, hw.ram.total_bytes


def _swap_text(hw: HardwareInfo) -> str:
    ram = hw.ram
    if not ram.swap_total_bytes:
        return "no swap"
    used = ram.swap_total_bytes - ram.swap_free_bytes
    return f"swap {format_bytes(used)} used of {format_bytes(ram.swap_total_bytes)}"


def _cpu_text(hw: HardwareInfo) -> str:
    cpu = hw.cpu
    features = " ".join(cpu.features) if cpu.features else "none of the SIMD features llama.cpp uses"
    return (
        f"[b]{escape(cpu.model)}[/b]  {cpu.arch} · {cpu.physical_cores} cores, "
        f"{cpu.logical_cores} threads\nfeatures: {escape(features)}"
    )


def _board_text(hw: HardwareInfo) -> str:
    return escape(hw.board or "not reported (no device-tree model)")


def _gpu_widgets(hw: HardwareInfo) -> Iterator[Widget]:
    for gpu in hw.gpus:
        yield Static(
            f"[b]{escape(gpu.name)}[/b]  GPU {gpu.index} · compute {gpu.compute_capability} "
            f"· driver {escape(gpu.driver)}",
            classes="hw-gpu-name",
        )
        used = gpu.vram_total_bytes - gpu.vram_free_bytes
        yield UsageBar("VRAM", used, gpu.vram_total_bytes, id=f"hw-vram-{gpu.index}")
    if not hw.gpus:
        text = UNIFIED_MEMORY_NOTE if hw.unified_memory else f"no NVIDIA GPU: {hw.gpu_reason or 'none found'}"
        yield Static(escape(text), id="hw-gpu-reason")
    elif hw.unified_memory:
        yield Static(UNIFIED_MEMORY_NOTE, id="hw-gpu-unified")


def _backend_text(backend: BackendInfo | None) -> str:
    if backend is None:
        return "asking llama.cpp what it can do…"
    if not backend.importable:
        return f"[b $error]not usable[/]: {escape(backend.reason or 'unknown reason')}"
    offload = (
        "[b $success]GPU offload supported[/]"
        if backend.gpu_offload_supported
        else "[b $warning]CPU only[/]: this build cannot offload layers to a GPU"
    )
    devices = ", ".join(f"{d.name} ({d.description})" for d in backend.devices) or "none listed"
    return (
        f"{offload}\n{escape(backend.build)} · llama-cpp-python "
        f"{escape(backend.llama_cpp_python_version or '?')}\n"
        f"backends: {escape(', '.join(backend.backends) or 'none')} · devices: {escape(devices)}"
    )
