"""Model references: what the user types (REF) and the model file it means.

REF is one of
- `default[:QUANT]`: the bundled SmolLM2-135M-Instruct; without a quant, its shipped Q4_1 file;
- `catalog-id[:QUANT]`: an entry of the catalog (`edgeapp models`); the file must be downloaded;
- a path to a `.gguf` file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgeapp import bundled
from edgeapp.errors import ModelNotFound, UsageError
from edgeapp.quants import QUANTS, is_known_quant, normalize_quant

if TYPE_CHECKING:
    from edgeapp.catalog import Catalog, CatalogModel

RefKind = Literal["default", "catalog", "path"]


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference made concrete: which model, which quant, and its file if there is one."""

    ref: str
    kind: RefKind
    model_id: str
    name: str
    quant: str | None
    path: Path | None  # None: a catalog quant not downloaded yet, or a default quant not derived yet
    catalog: CatalogModel | None = None
    derived_from: str | None = None  # "Q4_1" for quants derived from the bundled model

    @property
    def label(self) -> str:
        """Return a short label such as `default:Q8_0`, `qwen2.5-0.5b-instruct:Q4_K_M` or a file name."""
        if self.kind == "path":
            return self.path.name if self.path else self.ref
        return f"{self.model_id}:{self.quant}" if self.quant else self.model_id

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "kind": self.kind,
            "model": self.model_id,
            "name": self.name,
            "quant": self.quant,
            "path": str(self.path) if self.path else None,
            "derived_from": self.derived_from,
        }


def looks_like_path(ref: str) -> bool:
    """Return True if `ref` should be read as a file path rather than a catalog id."""
    return ref.lower().endswith(".gguf") or os.sep in ref or ref.startswith((".", "~")) or Path(ref).is_file()


def split_ref(ref: str) -> tuple[str, str | None]:
    """Return (model id, quant or None) for `id[:QUANT]`; UsageError for an unknown quant."""
    model_id, sep, quant = ref.strip().partition(":")
    if not model_id:
        raise UsageError(
            f"'{ref}' is not a model reference (expected catalog-id[:QUANT], default[:QUANT] or a .gguf path)"
        )
    if not sep:
        return model_id, None
    if not is_known_quant(quant):
        raise UsageError(f"unknown quant '{quant}' in '{ref}'; known quants: {', '.join(QUANTS)}")
    return model_id, normalize_quant(quant)


def resolve(ref: str, catalog: Catalog | None = None) -> ResolvedModel:
    """Return what `ref` means. Does not download or derive anything (see `materialize`)."""
    if looks_like_path(ref):
        return _resolve_path(ref)
    model_id, quant = split_ref(ref)
    if model_id.lower() == "default":
        return _resolve_default(ref, quant)
    if catalog is None:
        from edgeapp.catalog import load_catalog

        catalog = load_catalog()
    model = catalog.get(model_id)
    return _resolve_catalog(ref, model, quant)


def _resolve_path(ref: str) -> ResolvedModel:
    path = Path(ref).expanduser()
    if not path.exists():
        raise ModelNotFound(f"no such file: {path}")
    if path.is_dir():
        raise ModelNotFound(f"{path} is a directory, not a .gguf file")
    return ResolvedModel(
        ref=ref, kind="path", model_id=path.stem, name=path.name, quant=None, path=path.resolve()
    )


def _resolve_default(ref: str, quant: str | None) -> ResolvedModel:
    if quant is None:
        path = bundled.bundled_model_path()
        return ResolvedModel(ref, "default", "default", bundled.BUNDLED_NAME, bundled.BUNDLED_QUANT, path)
    derived = bundled.derived_path(quant)
    return ResolvedModel(
        ref,
        "default",
        "default",
        bundled.BUNDLED_NAME,
        quant,
        derived if derived.is_file() else None,
        derived_from=bundled.BUNDLED_QUANT,
    )


def _resolve_catalog(ref: str, model: CatalogModel, quant: str | None) -> ResolvedModel:
    if quant is not None:
        model.file_for(quant)  # ModelNotFound listing the quants this repo publishes
    path = cached_catalog_file(model, quant) if quant else None
    return ResolvedModel(ref, "catalog", model.id, model.name, quant, path, catalog=model)


def cached_catalog_file(model: CatalogModel, quant: str) -> Path | None:
    """Return the verified local file of a catalog quant, or None if it is not downloaded."""
    from edgeapp.downloads import cached_file

    cached = cached_file(model.repo, model.file_for(quant))
    return Path(cached.path) if cached is not None else None


def downloaded_quants(model: CatalogModel) -> dict[str, Path]:
    """Return {quant: path} for the quants of `model` that are downloaded and verified."""
    found = {}
    for quant in model.quants:
        path = cached_catalog_file(model, quant)
        if path is not None:
            found[quant] = path
    return found


def materialize(resolved: ResolvedModel, on_progress: Callable[[str], None] | None = None) -> ResolvedModel:
    """Return `resolved` with a local file: derive a default quant, or explain how to download."""
    if resolved.path is not None:
        return resolved
    if resolved.kind == "default" and resolved.quant:
        path = bundled.ensure_derived(resolved.quant, on_progress)
        return ResolvedModel(**{**resolved.__dict__, "path": path})
    if resolved.kind == "catalog" and resolved.catalog is not None:
        if resolved.quant is None:
            raise UsageError(f"'{resolved.ref}' needs a quant here, e.g. {resolved.model_id}:Q4_K_M")
        raise ModelNotFound(f"{resolved.label} is not downloaded yet; run `edgeapp pull {resolved.label}`")
    raise ModelNotFound(f"no local file for {resolved.ref}")
