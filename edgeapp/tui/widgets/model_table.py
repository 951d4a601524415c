"""The models table: a row per model, a two-line cell per quant (size; fit badge and marks)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.color import Color
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from edgeapp.tui.widgets.model_rows import COLUMNS, OTHER, ModelRow, QuantCell, format_params

MODEL_WIDTH = 20
QUANT_WIDTH = 9
LEGEND = (
    "★ recommended · ✓ on disk · ≈ derived from the bundled Q4_1 on first use (available) · fit at this "
    "context: GPU, n/N layers on the GPU, CPU, too large · sizes of files not on disk are estimates"
)


class ModelTable(DataTable[Any]):
    """Catalog, bundled and local models with the picker's verdict for each quant."""

    class CellChosen(Message):
        """The cursor is on a model (quant None: the model or params column) or one of its quants."""

        def __init__(self, row: ModelRow, cell: QuantCell | None) -> None:
            self.row = row
            self.cell = cell
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=True, fixed_columns=1, **kwargs)
        self.rows_by_key: dict[str, ModelRow] = {}

    def on_mount(self) -> None:
        self.add_column("model", width=MODEL_WIDTH, key="model")
        self.add_column("params", width=6, key="params")
        for column in COLUMNS:
            self.add_column(column if column != OTHER else "file", width=QUANT_WIDTH, key=column)

    def show_rows(self, rows: list[ModelRow], keep: tuple[str, str] | None = None) -> None:
        """Replace the rows, keeping the cursor on (row key, column key) `keep` when it is still there."""
        self.clear()
        self.rows_by_key = {row.key: row for row in rows}
        for row in rows:
            self.add_row(*self._cells(row), key=row.key, height=2)
        if keep is not None and keep[0] in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(keep[0]), column=self.get_column_index(keep[1]))

    def current(self) -> tuple[ModelRow, QuantCell | None] | None:
        """Return the row and quant cell under the cursor (cell None on the model/params columns)."""
        if not self.row_count:
            return None
        return self._at(self.cursor_coordinate)

    def current_keys(self) -> tuple[str, str] | None:
        """Return (row key, column key) under the cursor."""
        if not self.row_count:
            return None
        cell_key = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(cell_key.row_key.value), str(cell_key.column_key.value)

    def _at(self, coordinate: Coordinate) -> tuple[ModelRow, QuantCell | None]:
        cell_key = self.coordinate_to_cell_key(coordinate)
        row = self.rows_by_key[str(cell_key.row_key.value)]
        return row, row.cell_for(str(cell_key.column_key.value))

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        row, cell = self._at(event.coordinate)
        self.post_message(self.CellChosen(row, cell))

    # -- formatting ----------------------------------------------------------------------------

    def _cells(self, row: ModelRow) -> list[Text]:
        colours = self.app.theme_variables
        name = Text(_clip(row.name, MODEL_WIDTH), style="bold")
        name.append("\n" + _clip(row.subtitle, MODEL_WIDTH), style=colours.get("foreground-muted", "dim"))
        cells: list[Text] = [name, Text(format_params(row.params), justify="right")]
        if row.error is not None:
            message = Text(_clip(row.error, QUANT_WIDTH * 2), style=colours["error"])
            return cells + [message] + [Text("")] * (len(COLUMNS) - 1)
        for column in COLUMNS:
            cell = row.cell_for(column)
            cells.append(_quant_text(cell, colours) if cell else Text("·", style="dim", justify="center"))
        return cells


def _quant_text(cell: QuantCell, colours: dict[str, str]) -> Text:
    verdict_colour = {
        "gpu": colours["success"],
        "partial": colours["warning"],
        "cpu": colours.get("primary", "cyan"),
        "too_large": colours["error"],
    }[cell.verdict]
    # Off-ladder files (the bundled Q4_1, a local IQ4_XS) sit under "file" and name their type.
    label = "" if cell.quant in COLUMNS else f"{cell.quant} "
    first = ("★ " if cell.recommended else "") + short_size(cell.size_bytes)
    mark = " ≈" if cell.derived else (" ✓" if cell.available else "")
    text = Text(_clip(first, QUANT_WIDTH), style="bold" if cell.recommended else "")
    text.append("\n" + label)
    text.append(cell.badge, style=verdict_colour)
    text.append(mark)
    if cell.recommended:
        background = Color.parse(colours["background"]).blend(Color.parse(colours["success"]), 0.25)
        text.stylize(f"on {background.hex}")
    return text


def short_size(n_bytes: int) -> str:
    """Return a size in at most five characters: 77.8M, 1.74G, 13.5G (binary units)."""
    for unit, scale in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n_bytes >= scale:
            value = n_bytes / scale
            return f"{value:.3g}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return f"{n_bytes}B"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
