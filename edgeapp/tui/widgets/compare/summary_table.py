"""The comparison's summary: each figure for A and B and the ratio B/A, better side highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from edgeapp.comparison import Comparison, ComparisonRow, format_ratio, format_value


def _ratio_cell(row: ComparisonRow) -> Text:
    ratio = row.ratio
    text = Text(format_ratio(ratio), justify="right")
    if ratio is None or not row.better or ratio == 1:
        return text
    b_better = (ratio > 1) == (row.better == "higher")
    text.stylize("green" if b_better else "red")
    return text


def _value_cell(row: ComparisonRow, side: str) -> Text:
    value = row.a if side == "a" else row.b
    text = Text(format_value(value, row.unit), justify="right")
    ratio = row.ratio
    if ratio is not None and row.better and ratio != 1:
        b_better = (ratio > 1) == (row.better == "higher")
        if (side == "b") == b_better:
            text.stylize("bold")
    return text


class SummaryTable(DataTable):
    """A read-only table of `Comparison.rows()`; `show(comparison)` refills it."""

    DEFAULT_CSS = """
    SummaryTable { height: auto; max-height: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, show_cursor=False)

    def show(self, comparison: Comparison) -> None:
        """Fill the table with the figures of `comparison`."""
        self.clear(columns=True)
        self.add_column("Figure", key="figure")
        self.add_column(Text(f"A · {comparison.a.label}", justify="right"), key="a")
        self.add_column(Text(f"B · {comparison.b.label}", justify="right"), key="b")
        self.add_column(Text("B/A", justify="right"), key="ratio")
        for row in comparison.rows():
            self.add_row(
                row.name, _value_cell(row, "a"), _value_cell(row, "b"), _ratio_cell(row), key=row.key
            )
