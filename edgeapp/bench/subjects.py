"""The models a benchmark or comparison measures: references made into local files, with their quants."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from edgeapp.errors import UsageError
from edgeapp.quants import quant_rank

if TYPE_CHECKING:
    from edgeapp.hardware import HardwareInfo
    from edgeapp.refs import ResolvedModel


def materialize_all(
    refs: Sequence[str], on_progress: Callable[[str], None] | None = None
) -> list[ResolvedModel]:
    """Return each REF resolved to a local file (deriving default quants); duplicates are refused."""
    from edgeapp import refs as refs_module

    models = []
    seen: dict[str, str] = {}
    for ref in refs:
        model = refs_module.materialize(refs_module.resolve(ref), on_progress)
        key = str(model.path)
        if key in seen:
            raise UsageError(f"'{ref}' and '{seen[key]}' are the same file; give each model once")
        seen[key] = ref
        models.append(model)
    return models


def quant_label(model: ResolvedModel) -> str | None:
    """Return the model's quant: from its reference, else from its GGUF header (None if unreadable)."""
    if model.quant:
        return model.quant
    if model.path is None:
        return None
    try:
        from edgeapp.gguf_file import read_header

        return read_header(model.path, check_data=False).quant_label()
    except Exception:  # an unreadable header: llama.cpp will say more when it loads the file
        return None


def precision_order(models: Sequence[ResolvedModel]) -> list[ResolvedModel]:
    """Return `models` from most to least precise (by quant rank, then file size)."""

    def key(model: ResolvedModel) -> tuple[int, int]:
        label = quant_label(model)
        size = model.path.stat().st_size if model.path is not None and model.path.exists() else 0
        return (quant_rank(label) if label else -1, size)

    return sorted(models, key=key, reverse=True)


def resolve_gpu_layers(value: int | str, model: ResolvedModel, hw: HardwareInfo | None, n_ctx: int) -> int:
    """Return a layer count for llama.cpp (-1 = all) from "auto", "all" or a number."""
    if value != "auto":
        return int(value)
    if hw is None or not hw.gpu_offload_supported or not (hw.gpus or hw.unified_memory):
        return 0
    try:
        from edgeapp.pick import auto_gpu_layers
    except ImportError:  # the picker is not installed yet: offload everything and let llama.cpp refuse
        return -1
    return int(auto_gpu_layers(model, hw, n_ctx))
