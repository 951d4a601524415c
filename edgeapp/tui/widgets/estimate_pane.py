"""The models screen's details pane: one quant's memory estimate, part by part, RAM vs VRAM.

Context size and GPU layers are edited here (inputs, or the screen's [ ] - + keys); the estimate
follows at once. It comes from edgeapp.estimate.estimate_memory in a worker: exact from the GGUF
header when the file is on disk, approximate from the catalog's facts otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from edgeapp.errors import EdgeappError
from edgeapp.tui.state import state_of
from edgeapp.tui.widgets.model_rows import ModelRow, QuantCell
from edgeapp.units import format_bytes

if TYPE_CHECKING:
    from edgeapp.estimate import MemoryEstimate

MIN_CTX, MAX_CTX = 256, 1 << 20


@dataclass(frozen=True)
class Breakdown:
    """An estimate split into rows of (part, total, RAM, VRAM) that add up to its totals."""

    rows: tuple[tuple[str, int, int, int], ...]
    ram_bytes: int
    vram_bytes: int


def breakdown(estimate: MemoryEstimate) -> Breakdown:
    """Return the parts of `estimate` with their RAM and VRAM shares, adding up to its totals.

    VRAM's overhead is the GPU context (what VRAM holds beyond the parts); RAM's overhead is the
    rest of `overhead_bytes` (the engine process and llama.cpp's structures). Weights in RAM are
    what RAM holds beyond the other parts: the CPU's layers, the token embedding (always on the
    CPU, even when a tied output matrix also goes to the GPU) and any repacked copies.
    """
    e = estimate
    overhead_vram = max(e.vram_bytes - e.weights_vram_bytes - e.kv_vram_bytes - e.compute_vram_bytes, 0)
    overhead_ram = max(e.overhead_bytes - overhead_vram, 0)
    kv_ram = e.kv_cache_bytes - e.kv_vram_bytes
    compute_ram = e.compute_ram_resident_bytes
    weights_ram = max(e.ram_bytes - overhead_ram - kv_ram - compute_ram, 0)
    rows = (
        ("weights", weights_ram + e.weights_vram_bytes, weights_ram, e.weights_vram_bytes),
        ("KV cache", e.kv_cache_bytes, kv_ram, e.kv_vram_bytes),
        ("compute", compute_ram + e.compute_vram_bytes, compute_ram, e.compute_vram_bytes),
        ("overhead", overhead_ram + overhead_vram, overhead_ram, overhead_vram),
    )
    return Breakdown(rows, e.ram_bytes, e.vram_bytes)


def source_label(estimate: MemoryEstimate) -> str:
    """Return how much to trust an estimate: exact from a header (and a dry run), or approximate."""
    if not estimate.exact:
        return "approximate (catalog facts)"
    return "exact (GGUF header + dry run)" if estimate.source == "dry-run" else "exact (GGUF header)"


def parse_layers(text: str) -> int | str:
    """Return "auto", -1 (all) or a layer count from the GPU layers input; ValueError if none of them."""
    from edgeapp.settings import parse_gpu_layers

    return parse_gpu_layers(text)


class EstimatePane(Vertical):
    """Memory estimate of the highlighted quant, for the context and GPU layers typed here."""

    class ContextChanged(Message):
        """The user changed the context size; the table's fit badges depend on it."""

        def __init__(self, n_ctx: int) -> None:
            self.n_ctx = n_ctx
            super().__init__()

    n_ctx: reactive[int] = reactive(2048, init=False)
    gpu_layers: reactive[str] = reactive("auto", init=False)

    def __init__(self, n_ctx: int, gpu_layers: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.set_reactive(EstimatePane.n_ctx, n_ctx)
        self.set_reactive(EstimatePane.gpu_layers, gpu_layers)
        self.target: tuple[ModelRow, QuantCell | None] | None = None
        self.estimate: MemoryEstimate | None = None

    def compose(self) -> ComposeResult:
        yield Static("Move to a quant to see its memory estimate.", id="est-title")
        with Horizontal(id="est-controls"):
            yield Label("context", classes="est-label")
            yield Input(str(self.n_ctx), id="est-ctx", restrict=r"[0-9]*", max_length=7, compact=True)
            yield Label("GPU layers", classes="est-label")
            yield Input(self.gpu_layers, id="est-gpu", max_length=5, compact=True)
            yield Static("keys: [ ] context ÷2 ×2 · - + GPU layers", id="est-keys", markup=False)
        yield Static(id="est-table")
        yield Static(id="est-verdict")

    # -- inputs ----------------------------------------------------------------------------------

    @on(Input.Changed, "#est-ctx")
    def _ctx_typed(self, event: Input.Changed) -> None:
        if event.value.isdigit() and MIN_CTX <= int(event.value) <= MAX_CTX:
            self.n_ctx = int(event.value)

    @on(Input.Changed, "#est-gpu")
    def _layers_typed(self, event: Input.Changed) -> None:
        try:
            value = parse_layers(event.value)
        except ValueError:
            return
        self.gpu_layers = "all" if value == -1 else str(value)

    def watch_n_ctx(self, n_ctx: int) -> None:
        field = self.query_one("#est-ctx", Input)
        if field.value != str(n_ctx):
            field.value = str(n_ctx)
        self.post_message(self.ContextChanged(n_ctx))
        self.refresh_estimate()

    def watch_gpu_layers(self, value: str) -> None:
        field = self.query_one("#est-gpu", Input)
        if parse_layers(field.value) != parse_layers(value):
            field.value = value
        self.refresh_estimate()

    def scale_context(self, factor: float) -> None:
        """Double or halve the context (within 256 … 1M tokens)."""
        self.n_ctx = int(min(max(self.n_ctx * factor, MIN_CTX), MAX_CTX))

    def step_layers(self, step: int) -> None:
        """Offload one layer more or fewer; from "auto" the step starts at the automatic count."""
        n_layers = self.estimate.n_layers if self.estimate else 0
        current = self.estimate.gpu_layers if self.estimate else 0
        value = min(max(current + step, 0), n_layers + 1)
        self.gpu_layers = "all" if n_layers and value > n_layers else str(value)

    # -- the estimate ------------------------------------------------------------------------------

    def show(self, row: ModelRow, cell: QuantCell | None) -> None:
        """Show the estimate of `cell` (or of the row's recommended quant when `cell` is None)."""
        if cell is None and row.recommended is not None:
            cell = next((c for c in row.cells.values() if c.quant == row.recommended), None)
        self.target = (row, cell)
        self.refresh_estimate()

    def refresh_estimate(self) -> None:
        if self.target is None:
            return
        row, cell = self.target
        if cell is None:
            self._show_error(row, row.error or "no quant of this model fits; see the reason below")
            return
        self._estimate_worker(row, cell, self.n_ctx, self.gpu_layers)

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def _estimate_worker(self, row: ModelRow, cell: QuantCell, n_ctx: int, layers_text: str) -> None:
        from edgeapp.estimate import estimate_memory
        from edgeapp.pick import auto_gpu_layers, gpu_usable
        from edgeapp.refs import resolve

        state = state_of(self)
        try:
            resolved = resolve(cell.ref, state.catalog)
            layers = parse_layers(layers_text)
            if layers == "auto":
                layers = auto_gpu_layers(resolved, state.hardware, n_ctx, state.headroom())
            quant = None if row.kind == "path" or cell.ref == "default" else cell.quant
            estimate = estimate_memory(resolved, n_ctx, int(layers), quant, gpu=gpu_usable(state.hardware))
        except (EdgeappError, ValueError, OSError) as error:
            self.app.call_from_thread(self._show_error, row, str(error))
            return
        self.app.call_from_thread(self._show_estimate, row, cell, estimate, layers_text)

    def _show_estimate(
        self, row: ModelRow, cell: QuantCell, estimate: MemoryEstimate, layers_text: str
    ) -> None:
        self.estimate = estimate
        colours = self.app.theme_variables
        title = Text.assemble(
            (cell.ref if row.kind != "path" else row.name, "bold"),
            f"  {row.name}  ",
            (source_label(estimate), colours["success"] if estimate.exact else colours["warning"]),
        )
        self.query_one("#est-title", Static).update(title)
        self.query_one("#est-table", Static).update(_table(estimate, layers_text))
        verdict = (
            row.reason
            if cell.recommended or not row.recommended
            else f"{cell.quant} here: {_long_badge(cell)}. The recommendation is {row.recommended} (★)."
        )
        self.query_one("#est-verdict", Static).update(
            Text(verdict, style=colours.get("foreground-muted", ""))
        )

    def _show_error(self, row: ModelRow, message: str) -> None:
        self.estimate = None
        self.query_one("#est-title", Static).update(Text(row.name, style="bold"))
        self.query_one("#est-table", Static).update(Text(message, style=self.app.theme_variables["error"]))
        self.query_one("#est-verdict", Static).update(row.reason)


def _long_badge(cell: QuantCell) -> str:
    return {
        "gpu": "fits entirely on the GPU",
        "partial": f"{cell.badge} layers fit on the GPU, the rest runs on the CPU",
        "cpu": "runs on the CPU",
        "too_large": "too large for this machine's memory",
    }[cell.verdict]


def _table(estimate: MemoryEstimate, layers_text: str) -> Table:
    parts = breakdown(estimate)
    layers = (
        "all" if estimate.n_layers and estimate.gpu_layers > estimate.n_layers else str(estimate.gpu_layers)
    )
    auto = " (auto)" if layers_text == "auto" else ""
    table = Table(box=None, padding=(0, 2), show_edge=False, expand=False)
    table.add_column(
        f"{estimate.n_ctx} tokens · {layers}/{estimate.n_layers + 1} layers on GPU{auto}", min_width=36
    )
    for name in ("total", "RAM", "VRAM"):
        table.add_column(name, justify="right", min_width=10)
    for name, total, ram, vram in parts.rows:
        table.add_row(name, format_bytes(total), format_bytes(ram), format_bytes(vram))
    table.add_row(
        Text("total", style="bold"),
        Text(format_bytes(parts.ram_bytes + parts.vram_bytes), style="bold"),
        Text(format_bytes(parts.ram_bytes), style="bold"),
        Text(format_bytes(parts.vram_bytes), style="bold"),
    )
    return table
