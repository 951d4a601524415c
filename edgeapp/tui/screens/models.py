"""The models screen: the catalog, the bundled model and opened files, with the picker's fit for
every quant, a filter, and the memory estimate of the highlighted quant."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Static

from edgeapp.tui.state import state_of
from edgeapp.tui.widgets.app_footer import AppFooter
from edgeapp.tui.widgets.app_header import AppHeader
from edgeapp.tui.widgets.estimate_pane import EstimatePane
from edgeapp.tui.widgets.model_rows import ModelRow, build_rows, matches
from edgeapp.tui.widgets.model_table import LEGEND, ModelTable


class ModelsScreen(Screen[None]):
    """Pick a model and quant; see why it fits (or not) before downloading or loading it."""

    AUTO_FOCUS = "ModelTable"
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", tooltip="Filter the models by words"),
        Binding("o", "app.open_model_file", "Open .gguf", tooltip="Open a local .gguf file by path"),
        Binding("g", "download", "Download", tooltip="Download the highlighted catalog quant"),
        Binding("left_square_bracket", "context(0.5)", "Context ÷2", show=False),
        Binding("right_square_bracket", "context(2)", "Context ×2", show=False),
        Binding("minus", "layers(-1)", "GPU layers −1", show=False),
        Binding("plus,equals_sign", "layers(1)", "GPU layers +1", show=False),
        Binding("escape", "focus_table", "Back to the table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ModelRow] = []
        self._placed = False  # the cursor went to the selected model once

    def compose(self) -> ComposeResult:
        settings = state_of(self).settings
        yield AppHeader()
        with Horizontal(id="models-bar"):
            yield Input(
                placeholder="/ filter: words from the id, name, repo or description",
                id="models-filter",
                compact=True,
            )
            yield Button("Open .gguf…", id="models-open", compact=True)
        yield ModelTable(id="models-table")
        yield Static(LEGEND, id="models-legend")
        pane = EstimatePane(settings.n_ctx, settings.gpu_layers, id="models-details", classes="panel")
        pane.border_title = "Memory estimate"
        yield pane
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one(ModelTable).loading = True
        self.watch(self.app, "hardware", lambda _: self.reload(), init=False)
        self.watch(self.app, "selected_ref", self._selection_changed, init=False)

    def on_screen_resume(self) -> None:
        # Downloads, removals and opened files change the marks: rebuild on every visit (cheap).
        self.reload()

    def _selection_changed(self, ref: str) -> None:
        # A model selected elsewhere (an opened file, the palette): rebuild and put the cursor on it.
        current = self.query_one(ModelTable).current()
        if current is None or (current[1].ref if current[1] else current[0].key) != ref:
            self._placed = False
            self.reload()

    # -- rows --------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Recompute every row (in a worker) for the details pane's context size."""
        self._rows_worker(self.query_one(EstimatePane).n_ctx)

    @work(thread=True, exclusive=True, group="model-rows", exit_on_error=False)
    def _rows_worker(self, n_ctx: int) -> None:
        rows = build_rows(state_of(self), n_ctx)
        self.app.call_from_thread(self._show_rows, rows)

    def _show_rows(self, rows: list[ModelRow]) -> None:
        self.rows = rows
        table = self.query_one(ModelTable)
        table.loading = False
        keep = table.current_keys() if self._placed else self._selected_position(rows)
        self._placed = True
        self._apply_filter(keep)

    def _selected_position(self, rows: list[ModelRow]) -> tuple[str, str] | None:
        """Return (row, column) of the selected model, on its quant (or its recommended one)."""
        from edgeapp.tui.widgets.model_rows import OTHER

        ref = state_of(self).selected_ref
        for row in rows:
            for column, cell in row.cells.items():
                if cell.ref == ref and (row.kind != "default" or column != OTHER or ref == "default"):
                    return row.key, column
        key = ref.split(":", 1)[0] if not ref.endswith(".gguf") else ref
        found = next((r for r in rows if r.key == key), None)
        if found is None:
            return None
        return found.key, found.recommended or "model"

    @on(Input.Changed, "#models-filter")
    def _filter_changed(self) -> None:
        self._apply_filter(self.query_one(ModelTable).current_keys())

    def _apply_filter(self, keep: tuple[str, str] | None) -> None:
        text = self.query_one("#models-filter", Input).value
        state = state_of(self)
        ids = {m.id for m in state.catalog.search(text)} if text.strip() else None
        shown = [row for row in self.rows if matches(row, text, ids)]
        table = self.query_one(ModelTable)
        table.show_rows(shown, keep)
        if not shown:
            self.query_one("#models-legend", Static).update(f"no model matches {text!r}")
        else:
            self.query_one("#models-legend", Static).update(LEGEND)

    # -- selection and details ------------------------------------------------------------------

    @on(ModelTable.CellChosen)
    def _cell_chosen(self, event: ModelTable.CellChosen) -> None:
        self.query_one(EstimatePane).show(event.row, event.cell)

    @on(DataTable.CellSelected, "#models-table")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        current = self.query_one(ModelTable).current()
        if current is None:
            return
        row, cell = current
        ref = cell.ref if cell is not None else row.key
        state_of(self).select_model(ref)
        self.notify(f"Selected {ref if row.kind != 'path' else row.name}", title="Model", timeout=3)

    @on(EstimatePane.ContextChanged)
    def _context_changed(self) -> None:
        if self.rows:
            self.reload()

    @on(Button.Pressed, "#models-open")
    async def _open_pressed(self) -> None:
        await self.app.run_action("open_model_file")

    # -- actions ---------------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Move to the filter box."""
        self.query_one("#models-filter", Input).focus()

    def action_focus_table(self) -> None:
        """Leave the filter (or the estimate inputs) for the table."""
        self.query_one(ModelTable).focus()

    def action_context(self, factor: float) -> None:
        """Halve or double the context size of the estimate and the fit badges."""
        self.query_one(EstimatePane).scale_context(factor)

    def action_layers(self, step: int) -> None:
        """Offload one more (or one fewer) layer in the estimate."""
        self.query_one(EstimatePane).step_layers(step)

    async def action_download(self) -> None:
        """Open the downloads screen on the highlighted catalog quant."""
        current = self.query_one(ModelTable).current()
        if current is None or current[0].kind != "catalog":
            self.notify("Move to a catalog model's quant to download it", severity="warning")
            return
        row, cell = current
        ref = cell.ref if cell is not None else f"{row.key}:{row.recommended}" if row.recommended else row.key
        await self.app.run_action(f"download({ref!r})")
