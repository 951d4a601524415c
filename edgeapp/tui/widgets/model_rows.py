"""The models table's data: one row per model, one cell per quant, all from the picker's verdicts.

Built in a worker (the picker reads GGUF headers and the download cache); the table only formats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeapp.errors import EdgeappError
from edgeapp.quants import QUANTS

if TYPE_CHECKING:
    from edgeapp.pick import Candidate, Pick

OTHER = "other"  # the column for files whose quant is not on the ladder (the bundled Q4_1, local files)
COLUMNS: tuple[str, ...] = (*QUANTS, OTHER)


@dataclass(frozen=True)
class QuantCell:
    """One quant of one model as the picker judged it."""

    quant: str
    ref: str  # the REF that selects exactly this file
    size_bytes: int  # weights: exact from a header, else catalog parameters × bits per weight
    verdict: str  # gpu | partial | cpu | too_large
    badge: str  # GPU, 12/28, CPU, too large
    gpu_layers: int
    available: bool  # on disk: downloaded, opened, or the bundled file
    derived: bool  # a bundled-model quant made from its Q4_1 on first use (counts as available)
    recommended: bool
    exact: bool


@dataclass(frozen=True)
class ModelRow:
    """One model: the bundled default, a catalog entry, or a local file."""

    key: str  # the REF without a quant: "default", a catalog id, a path
    kind: str  # default | catalog | path
    name: str
    subtitle: str  # second line: the id, or "local file"
    params: int | None
    cells: dict[str, QuantCell] = field(default_factory=dict)
    recommended: str | None = None
    reason: str = ""
    error: str | None = None
    search_text: str = ""

    def cell_for(self, column: str) -> QuantCell | None:
        return self.cells.get(column)


def badge(candidate: Candidate) -> str:
    """Return the fit badge of a verdict: GPU, 12/28 (partial offload), CPU, too large."""
    if candidate.verdict == "partial":
        return f"{candidate.gpu_layers}/{candidate.n_layers}"
    return {"gpu": "GPU", "cpu": "CPU", "too_large": "too large"}[candidate.verdict]


def _cell(
    candidate: Candidate, ref: str, pick: Pick, *, derived: bool = False, on_disk: bool = False
) -> QuantCell:
    return QuantCell(
        quant=candidate.quant,
        ref=ref,
        size_bytes=candidate.estimate.weights_bytes,
        verdict=candidate.verdict,
        badge=badge(candidate),
        gpu_layers=candidate.gpu_layers,
        available=candidate.downloaded or derived or on_disk,
        derived=derived,
        recommended=candidate.quant == pick.quant,
        exact=candidate.estimate.exact,
    )


def default_row(state: Any, n_ctx: int) -> ModelRow:
    """Return the bundled model's row: its shipped Q4_1 and the ladder derived from it."""
    from edgeapp import bundled
    from edgeapp.pick import judge
    from edgeapp.refs import resolve

    pick = state.pick("default", n_ctx)
    cells = {c.quant: _cell(c, f"default:{c.quant}", pick, derived=True) for c in pick.candidates}
    shipped = judge(resolve("default"), None, state.hardware, n_ctx, state.headroom())
    cells[OTHER] = _cell(shipped, "default", pick, on_disk=True)  # the bundled file itself
    catalog_entry = (
        state.catalog.get(bundled.BUNDLED_CATALOG_ID) if bundled.BUNDLED_CATALOG_ID in state.catalog else None
    )
    return ModelRow(
        key="default",
        kind="default",
        name=bundled.BUNDLED_NAME,
        subtitle=f"default · {bundled.BUNDLED_QUANT} bundled",
        params=catalog_entry.params if catalog_entry else None,
        cells=cells,
        recommended=pick.quant,
        reason=pick.reason,
        search_text=f"default bundled {bundled.BUNDLED_NAME} smollm2".lower(),
    )


def catalog_row(state: Any, model: Any, n_ctx: int) -> ModelRow:
    """Return a catalog model's row, one cell per quant file the catalog lists."""
    pick = state.pick(model.id, n_ctx)
    cells = {c.quant: _cell(c, f"{model.id}:{c.quant}", pick) for c in pick.candidates}
    return ModelRow(
        key=model.id,
        kind="catalog",
        name=model.name,
        subtitle=model.id,
        params=model.params,
        cells=cells,
        recommended=pick.quant,
        reason=pick.reason,
        search_text=f"{model.id}\n{model.name}\n{model.repo}\n{model.description}".lower(),
    )


def path_row(state: Any, path: Path, n_ctx: int) -> ModelRow:
    """Return a local file's row: its single quant, in its ladder column or under "other"."""
    from edgeapp.gguf_file import read_header

    header = read_header(path)
    pick = state.pick(str(path), n_ctx)
    cells = {}
    for candidate in pick.candidates:
        column = candidate.quant if candidate.quant in QUANTS else OTHER
        # A local file has one quant: it is on disk, and it is the only choice.
        cells[column] = QuantCell(
            **{**_cell(candidate, str(path), pick, on_disk=True).__dict__, "recommended": True}
        )
    params = sum(math.prod(t.shape) for t in header.tensors)
    return ModelRow(
        key=str(path),
        kind="path",
        name=path.name,
        subtitle=f"local file · {header.architecture}",
        params=params,
        cells=cells,
        recommended=pick.quant,
        reason=pick.reason,
        search_text=f"{path}\n{header.name or ''}\n{header.architecture}".lower(),
    )


def _failed(key: str, kind: str, name: str, error: BaseException) -> ModelRow:
    message = str(error) if isinstance(error, EdgeappError) else f"{type(error).__name__}: {error}"
    return ModelRow(key=key, kind=kind, name=name, subtitle="cannot be judged", params=None, error=message,
                    search_text=f"{key}\n{name}".lower())  # fmt: skip


def build_rows(state: Any, n_ctx: int) -> list[ModelRow]:
    """Return every row: the bundled model, the catalog, then the local files opened this session.

    A model the picker cannot judge (a local file deleted since, a broken catalog entry) gets a
    row with its error instead of taking the others down.
    """
    rows: list[ModelRow] = []
    try:
        rows.append(default_row(state, n_ctx))
    except Exception as error:  # noqa: BLE001 - shown in the row
        rows.append(_failed("default", "default", "bundled model", error))
    for model in state.catalog:
        try:
            rows.append(catalog_row(state, model, n_ctx))
        except Exception as error:  # noqa: BLE001 - shown in the row
            rows.append(_failed(model.id, "catalog", model.name, error))
    for path in list(state.local_models):
        try:
            rows.append(path_row(state, path, n_ctx))
        except Exception as error:  # noqa: BLE001 - shown in the row
            rows.append(_failed(str(path), "path", path.name, error))
    return rows


def matches(row: ModelRow, text: str, catalog_ids: set[str] | None) -> bool:
    """Return True if the row passes the filter: catalog rows by catalog.search, others by their text."""
    if not text.strip():
        return True
    if row.kind == "catalog" and catalog_ids is not None:
        return row.key in catalog_ids
    return all(word in row.search_text for word in text.lower().split())


def format_params(params: int | None) -> str:
    """Return a parameter count as people write it: 135M, 1.5B, 7.2B."""
    if not params:
        return "?"
    if params >= 1e9:
        return f"{params / 1e9:.1f}B"
    return f"{params / 1e6:.0f}M"
