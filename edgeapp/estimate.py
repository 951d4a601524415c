"""Predict the RAM and VRAM a model will use, before loading it.

The parts, each as llama.cpp allocates them (../shared/reference/memory-estimation.md):
- weights: exact per-tensor sizes from the GGUF header when the file (or its header) is here,
  otherwise parameters × bits per weight from the catalog (marked approximate). Offloaded layers
  are the last `gpu_layers` blocks; the output matrix joins them only when every block is offloaded.
- repacked weights: on CPUs with AVX2 (or ARM dot-product) llama.cpp copies some quantized matrices
  into an interleaved layout at load, so those bytes are resident twice (the mapping and the copy).
- KV cache: n_ctx (padded to 256) × layers × kv heads × head dim × K and V × 2 bytes (F16).
- compute: the buffer llama.cpp reserves for the worst batch, taken from a cached no_alloc dry run
  of a model with the same graph and context when there is one (the reserve does not depend on
  the quant, so one dry run serves every quant of a model), a formula otherwise. On the CPU only the part a
  generation touches becomes resident: the reserve holds logits for a whole batch of n_vocab rows,
  a chat or benchmark asks for one row.
- overhead: the engine process itself (interpreter + llama.cpp, measured at each engine start and
  cached) and llama.cpp's vocabulary and graph structures; on a GPU, the CUDA context and cuBLAS.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgeapp import memory_calibration as calibration
from edgeapp.quants import quant_type

if TYPE_CHECKING:
    from edgeapp.catalog import CatalogModel
    from edgeapp.gguf_file import GgufHeader
    from edgeapp.refs import ResolvedModel

N_UBATCH = 512
KV_PAD = 256
KV_BYTES_PER_ELEMENT = 2  # F16 cache, llama.cpp's default
MIB = 1024 * 1024

Source = Literal["dry-run", "header", "catalog"]


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know about a model, exact (header) or approximate (catalog)."""

    name: str
    quant: str | None
    exact: bool
    n_layers: int
    n_embd: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    layer_bytes: tuple[int, ...]  # per block
    embedding_bytes: int  # token_embd: always on the CPU (GET_ROWS)
    output_bytes: int  # output matrix; 0 when tied to the embedding
    other_bytes: int  # final norm and the like
    repackable_layer_bytes: tuple[int, ...]  # per block: bytes llama.cpp repacks on this CPU
    repackable_output_bytes: int
    path: str | None = None

    @property
    def weights_bytes(self) -> int:
        return sum(self.layer_bytes) + self.embedding_bytes + self.output_bytes + self.other_bytes


@dataclass(frozen=True)
class MemoryEstimate:
    """Predicted memory of one load: the parts, and their split between RAM and VRAM."""

    model: str
    quant: str | None
    n_ctx: int
    gpu_layers: int
    n_layers: int
    exact: bool
    source: Source
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int  # reserved by llama.cpp (host + device)
    overhead_bytes: int  # process, runtime structures and (with a GPU) the CUDA context
    ram_bytes: int  # predicted peak resident RAM of the engine process
    vram_bytes: int  # predicted VRAM of the engine process
    weights_vram_bytes: int = 0
    kv_vram_bytes: int = 0
    compute_vram_bytes: int = 0
    repacked_bytes: int = 0
    compute_ram_resident_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- model shapes --------------------------------------------------------------------------------

_MATMUL_SKIP = ("token_embd", "norm", "rope_freqs")


def _is_matmul_weight(name: str, shape: tuple[int, ...]) -> bool:
    return len(shape) >= 2 and not any(part in name for part in _MATMUL_SKIP)


def shape_from_header(header: GgufHeader, features: tuple[str, ...] | None = None) -> ModelShape:
    """Return the exact shape of a model from its GGUF header."""
    feats = calibration.cpu_features() if features is None else features
    layers = [0] * header.n_layers
    repack = [0] * header.n_layers
    embedding = output = other = repack_output = 0
    for tensor in header.tensors:
        repackable = _is_matmul_weight(tensor.name, tensor.shape) and calibration.is_repacked(
            tensor.type_name, tensor.shape, feats
        )
        if tensor.layer is not None and 0 <= tensor.layer < header.n_layers:
            layers[tensor.layer] += tensor.n_bytes
            repack[tensor.layer] += tensor.n_bytes if repackable else 0
        elif tensor.name.startswith("token_embd"):
            embedding += tensor.n_bytes
        elif tensor.name.startswith("output.") and len(tensor.shape) >= 2:
            output += tensor.n_bytes
            repack_output += tensor.n_bytes if repackable else 0
        else:
            other += tensor.n_bytes
    return ModelShape(
        name=header.name or Path(header.source).stem,
        quant=header.quant_label(),
        exact=True,
        n_layers=header.n_layers,
        n_embd=header.n_embd,
        n_head_kv=header.n_head_kv,
        head_dim=header.head_dim,
        n_vocab=header.n_vocab,
        layer_bytes=tuple(layers),
        embedding_bytes=embedding,
        output_bytes=output,
        other_bytes=other,
        repackable_layer_bytes=tuple(repack),
        repackable_output_bytes=repack_output,
        path=header.source,
    )


def shape_from_catalog(model: CatalogModel, quant: str) -> ModelShape:
    """Return an approximate shape from catalog facts: parameters × effective bits per weight."""
    arch = model.arch
    bits = quant_type(quant).bits_per_weight
    total = int(model.params * bits / 8)
    embedding = int(arch.n_vocab * arch.n_embd * bits / 8)
    per_layer = max(0, (total - embedding) // arch.n_layers)
    return ModelShape(
        name=model.id,
        quant=quant,
        exact=False,
        n_layers=arch.n_layers,
        n_embd=arch.n_embd,
        n_head_kv=arch.n_head_kv,
        head_dim=arch.head_dim,
        n_vocab=arch.n_vocab,
        layer_bytes=(per_layer,) * arch.n_layers,
        embedding_bytes=embedding,
        output_bytes=0,
        other_bytes=0,
        repackable_layer_bytes=(0,) * arch.n_layers,
        repackable_output_bytes=0,
    )


# --- the parts ----------------------------------------------------------------------------------


def kv_cache_bytes(shape: ModelShape, n_ctx: int, layers: int | None = None) -> int:
    """Return the F16 KV cache for `layers` blocks (default: all) at `n_ctx` tokens."""
    padded = -(-n_ctx // KV_PAD) * KV_PAD
    count = shape.n_layers if layers is None else layers
    return padded * count * shape.n_head_kv * shape.head_dim * 2 * KV_BYTES_PER_ELEMENT


def logits_bytes(shape: ModelShape, rows: int) -> int:
    """Return the bytes of `rows` rows of float logits."""
    return shape.n_vocab * rows * 4


def compute_reserve_bytes(shape: ModelShape, n_ctx: int) -> int:
    """Return the compute buffer llama.cpp reserves for a batch of N_UBATCH (formula)."""
    ubatch = min(N_UBATCH, n_ctx)
    activations = ubatch * shape.n_embd * 4 * 4  # residual stream, attention and FFN temporaries
    mask = min(ubatch * n_ctx * 2, 4 * MIB)  # F16 attention mask (flash attention)
    return logits_bytes(shape, ubatch) + activations + mask


def offload_split(shape: ModelShape, gpu_layers: int) -> tuple[int, bool]:
    """Return (blocks on the GPU, whether the output matrix is on the GPU) for llama.cpp's rule."""
    if gpu_layers < 0:
        return shape.n_layers, True
    blocks = min(gpu_layers, shape.n_layers)
    return blocks, gpu_layers > shape.n_layers


def estimate_shape(
    shape: ModelShape,
    n_ctx: int,
    gpu_layers: int,
    *,
    gpu: bool,
    dry_run: dict[str, int] | None = None,
) -> MemoryEstimate:
    """Return the estimate for `shape` at `n_ctx` with `gpu_layers` offloaded (if `gpu`)."""
    blocks_gpu, output_gpu = offload_split(shape, gpu_layers) if gpu else (0, False)
    first_gpu = shape.n_layers - blocks_gpu
    weights_vram = sum(shape.layer_bytes[first_gpu:]) + (shape.output_bytes if output_gpu else 0)
    if output_gpu and shape.output_bytes == 0:
        weights_vram += shape.embedding_bytes  # tied output: llama.cpp duplicates the embedding
    weights_ram = (
        shape.weights_bytes - sum(shape.layer_bytes[first_gpu:]) - (shape.output_bytes if output_gpu else 0)
    )
    repacked = sum(shape.repackable_layer_bytes[:first_gpu]) + (
        0 if output_gpu else shape.repackable_output_bytes
    )
    kv_total = kv_cache_bytes(shape, n_ctx)
    kv_vram = kv_cache_bytes(shape, n_ctx, blocks_gpu)
    reserve = dry_run["compute"] if dry_run else compute_reserve_bytes(shape, n_ctx)
    compute_vram = (dry_run["compute_device"] if dry_run else (reserve if blocks_gpu else 0)) if gpu else 0
    compute_ram = reserve - compute_vram
    # One row of logits instead of a batch: the rest of the host reserve is never touched.
    untouched = logits_bytes(shape, min(N_UBATCH, n_ctx) - 1) if not output_gpu else 0
    compute_resident = max(0, compute_ram - untouched) if compute_ram else 0
    process = calibration.engine_baseline_bytes()
    runtime = calibration.runtime_overhead_bytes(shape.n_vocab)
    gpu_context = calibration.gpu_context_bytes() if gpu and blocks_gpu else 0
    ram = (
        process
        + runtime
        + weights_ram
        + repacked
        + (kv_total - kv_vram)
        + compute_resident
        + logits_bytes(shape, 1)
    )
    vram = weights_vram + kv_vram + compute_vram + gpu_context if gpu and blocks_gpu else 0
    source: Source = "dry-run" if dry_run and shape.exact else ("header" if shape.exact else "catalog")
    return MemoryEstimate(
        model=shape.name,
        quant=shape.quant,
        n_ctx=n_ctx,
        gpu_layers=(blocks_gpu + (1 if output_gpu else 0)) if gpu else 0,
        n_layers=shape.n_layers,
        exact=shape.exact,
        source=source,
        weights_bytes=shape.weights_bytes,
        kv_cache_bytes=kv_total,
        compute_bytes=reserve,
        overhead_bytes=process + runtime + gpu_context,
        ram_bytes=ram,
        vram_bytes=vram,
        weights_vram_bytes=weights_vram,
        kv_vram_bytes=kv_vram,
        compute_vram_bytes=compute_vram,
        repacked_bytes=repacked,
        compute_ram_resident_bytes=compute_resident,
    )


# --- entry points -------------------------------------------------------------------------------


def model_shape(
    model: ResolvedModel, quant: str | None = None, features: tuple[str, ...] | None = None
) -> ModelShape:
    """Return the shape of `model` (exact if its file is here, catalog facts otherwise).

    `features` are the CPU features of the machine the estimate is for (default: this one's).
    """
    from edgeapp.gguf_file import read_header

    if model.path is not None and (quant is None or quant == model.quant):
        return shape_from_header(read_header(model.path, check_data=True), features)
    if model.kind == "default":
        from edgeapp import bundled

        target = quant or model.quant or bundled.BUNDLED_QUANT
        derived = bundled.derived_path(target)
        path = derived if derived.is_file() else None
        if path is not None:
            return shape_from_header(read_header(path), features)
        return _default_shape_before_derivation(target)
    if model.catalog is not None:
        return shape_from_catalog(model.catalog, quant or model.quant or "Q4_K_M")
    raise ValueError(f"cannot estimate {model.ref}: no file and no catalog facts")


def _default_shape_before_derivation(quant: str) -> ModelShape:
    """Return the bundled model's shape for a quant not derived yet: the catalog entry's facts."""
    from edgeapp import bundled
    from edgeapp.catalog import load_catalog

    return shape_from_catalog(load_catalog().get(bundled.BUNDLED_CATALOG_ID), quant)


def estimate_memory(
    model: ResolvedModel,
    n_ctx: int,
    gpu_layers: int,
    quant: str | None = None,
    *,
    gpu: bool | None = None,
    features: tuple[str, ...] | None = None,
) -> MemoryEstimate:
    """Return the memory estimate of `model` (at `quant`) for a context and GPU layer count.

    Uses the GGUF header when the file is here and a cached dry run of the same model graph and
    settings when there is one; never starts an engine process (`dry_run_estimate` does).
    """
    shape = model_shape(model, quant, features)
    use_gpu = calibration.gpu_offload_possible() if gpu is None else gpu
    cached = calibration.cached_dry_run(shape_signature(shape), n_ctx, gpu_layers if use_gpu else 0)
    return estimate_shape(shape, n_ctx, gpu_layers, gpu=use_gpu, dry_run=cached)


def shape_signature(shape: ModelShape) -> str:
    """Return what a model's compute buffers depend on: its graph, not its weights' quant."""
    return f"{shape.n_layers}-{shape.n_embd}-{shape.n_head_kv}-{shape.head_dim}-{shape.n_vocab}"


def dry_run_estimate(model: ResolvedModel, n_ctx: int, gpu_layers: int) -> MemoryEstimate:
    """Return the estimate with llama.cpp's own compute figures from a dry run (cached)."""
    path = model.path
    if path is None and model.kind == "default":
        from edgeapp import bundled

        path = bundled.bundled_model_path()  # same graph as every derived quant
    if path is None:
        return estimate_memory(model, n_ctx, gpu_layers)
    from edgeapp.gguf_file import read_header

    signature = shape_signature(shape_from_header(read_header(path)))
    layers = gpu_layers if calibration.gpu_offload_possible() else 0
    calibration.run_dry_run(str(path), signature, n_ctx, layers)
    return estimate_memory(model, n_ctx, gpu_layers)


def file_size_bytes(model: ResolvedModel) -> int | None:
    """Return the model file's size, if it is here."""
    return os.path.getsize(model.path) if model.path is not None and model.path.is_file() else None
