"""Measured constants the memory estimator needs, kept per machine in the cache directory.

- the engine process's own RSS before any model (interpreter + llama.cpp), recorded by every
  engine start (`record_engine_baseline`);
- the VRAM a GPU process holds beyond llama.cpp's buffers (CUDA context, cuBLAS workspace),
  recorded by the engine client after a generation on the GPU (`record_gpu_context`);
- llama.cpp dry runs (no_alloc) per file and settings: the compute buffers it would reserve;
- which tensor types llama.cpp repacks on this CPU (ggml-cpu/repack.cpp's rules).
Defaults, used until a measurement exists, are the figures measured on our reference machines.
"""

from __future__ import annotations

import functools
from typing import Any

from edgeapp.atomic import atomic_write_json, read_json

# Measured: engine process RSS after `import llama_cpp` and backend init, 2-core x86_64 (≈48.6 MB).
DEFAULT_ENGINE_BASELINE_BYTES = 48 * 1024 * 1024
# Vocabulary tables (token text, merges, piece cache) and graph metadata; fitted on SmolLM2-135M
# (49,152 tokens): 25.7 MB beyond the baseline, weights, repacks, KV and compute.
RUNTIME_OVERHEAD_FIXED_BYTES = int(12.5 * 1024 * 1024)
RUNTIME_OVERHEAD_PER_TOKEN_BYTES = 256
# VRAM a CUDA process holds beyond llama.cpp's buffers (CUDA context, cuBLAS workspace): 692 MiB
# measured on an H100 80GB, driver 580.159.04 (docs/benchmarks.md); replaced by this machine's
# own figure after its first generation on the GPU.
DEFAULT_GPU_CONTEXT_BYTES = 692 * 1024 * 1024


def _calibration_file() -> Any:
    from edgeapp.locations import measurements_directory

    return measurements_directory() / "memory_calibration.json"


def _load() -> dict[str, Any]:
    data = read_json(_calibration_file(), default={})
    return data if isinstance(data, dict) else {}


def _store(key: str, value: Any) -> None:
    data = _load()
    if data.get(key) == value:
        return
    data[key] = value
    atomic_write_json(_calibration_file(), data)


def engine_baseline_bytes() -> int:
    """Return the engine process's RSS before a model is loaded (measured here, or the default)."""
    value = _load().get("engine_baseline_bytes")
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_ENGINE_BASELINE_BYTES


def record_engine_baseline(rss_bytes: int) -> None:
    """Remember the engine's baseline RSS (called at every engine start; cheap when unchanged)."""
    if rss_bytes > 0:
        rounded = (rss_bytes // (256 * 1024)) * 256 * 1024  # small jitter should not rewrite the file
        _store("engine_baseline_bytes", rounded)


def runtime_overhead_bytes(n_vocab: int) -> int:
    """Return llama.cpp's per-model runtime structures: vocabulary tables and graph metadata."""
    return RUNTIME_OVERHEAD_FIXED_BYTES + RUNTIME_OVERHEAD_PER_TOKEN_BYTES * n_vocab


def gpu_context_bytes() -> int:
    """Return the per-process GPU context VRAM (measured here, or the default)."""
    value = _load().get("gpu_context_bytes")
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_GPU_CONTEXT_BYTES


def record_gpu_context(vram_bytes: int) -> None:
    """Remember the VRAM a GPU engine process uses beyond its ggml buffers."""
    if vram_bytes > 0:
        _store("gpu_context_bytes", (int(vram_bytes) >> 20) << 20)  # whole MiB: jitter does not rewrite


@functools.lru_cache(maxsize=1)
def cpu_features() -> tuple[str, ...]:
    """Return this CPU's SIMD features as edgeapp.hardware names them."""
    try:
        from edgeapp.hardware import probe_hardware

        return tuple(probe_hardware(gpu_offload_supported=False).cpu.features)
    except Exception:
        return ()


def is_repacked(type_name: str, shape: tuple[int, ...], features: tuple[str, ...]) -> bool:
    """Return True if llama.cpp's CPU backend keeps a repacked copy of such a weight matrix.

    Mirrors ggml_repack_get_optimal_repack_type() in ggml-cpu/repack.cpp (x86 and ARM).
    """
    if len(shape) < 2:
        return False
    rows = shape[1]
    avx2, avx512 = "avx2" in features, "avx512f" in features
    neon = "neon" in features
    dotprod, i8mm = neon and "dotprod" in features, neon and "i8mm" in features
    if type_name == "Q4_0":
        return (avx2 and rows % 8 == 0) or ((i8mm or dotprod) and rows % 4 == 0)
    if type_name == "Q4_K":
        return (avx2 or i8mm or dotprod) and rows % 8 == 0
    if type_name == "Q2_K":
        return avx512 and rows % 8 == 0
    if type_name in ("Q5_K", "Q6_K"):
        return (i8mm or dotprod) and rows % 8 == 0
    if type_name in ("IQ4_NL", "MXFP4"):
        return (avx2 and rows % 8 == 0) or (dotprod and rows % 4 == 0)
    if type_name == "Q8_0":
        return (i8mm or dotprod) and rows % 4 == 0
    return False


@functools.lru_cache(maxsize=1)
def gpu_offload_possible() -> bool:
    """Return True if llama.cpp here can offload and an NVIDIA GPU is present (or memory is unified)."""
    try:
        from edgeapp.backend_info import backend_info
        from edgeapp.hardware import probe_hardware

        if not backend_info().gpu_offload_supported:
            return False
        hw = probe_hardware()
        return bool(hw.gpus) or hw.unified_memory
    except Exception:
        return False


# --- dry runs -----------------------------------------------------------------------------------


def _dry_run_key(signature: str, n_ctx: int, gpu_layers: int) -> str:
    return f"{signature}|ctx{n_ctx}|ngl{gpu_layers}"


def _dry_run_file() -> Any:
    from edgeapp.locations import measurements_directory

    return measurements_directory() / "dry_runs.json"


def cached_dry_run(signature: str, n_ctx: int, gpu_layers: int) -> dict[str, int] | None:
    """Return {"compute", "compute_device", "output"} bytes from an earlier dry run, if any.

    Keyed by the model's graph signature (estimate.shape_signature), not its file: llama.cpp's
    compute reserve depends on the architecture, context and offload, not on the quant.
    """
    entry = (read_json(_dry_run_file(), default={}) or {}).get(_dry_run_key(signature, n_ctx, gpu_layers))
    return entry if isinstance(entry, dict) else None


def run_dry_run(path: str, signature: str, n_ctx: int, gpu_layers: int) -> dict[str, int]:
    """Ask llama.cpp (in an engine process) what it would reserve for `path`; cache the answer."""
    cached = cached_dry_run(signature, n_ctx, gpu_layers)
    if cached is not None:
        return cached
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import DryRun

    with EngineClient() as engine:
        breakdown = engine.dry_run(DryRun(path=path, n_ctx=n_ctx, gpu_layers=gpu_layers))
    entry = {
        "compute": breakdown.host_compute_bytes + breakdown.device_compute_bytes,
        "compute_device": breakdown.device_compute_bytes,
        "output": breakdown.output_bytes,
    }
    data = read_json(_dry_run_file(), default={}) or {}
    data[_dry_run_key(signature, n_ctx, gpu_layers)] = entry
    atomic_write_json(_dry_run_file(), data)
    return entry
