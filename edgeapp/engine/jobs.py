"""One-off llama.cpp jobs in the engine process: quantizing a file and dry-running a load."""

from __future__ import annotations

import ctypes
import os
import time

import llama_cpp as L

from edgeapp.atomic import atomic_path
from edgeapp.engine import logs
from edgeapp.engine.protocol import DryRun, MemoryBreakdown, Quantize, Quantized
from edgeapp.engine.session import ALL_LAYERS, physical_cores
from edgeapp.quants import quant_type


class JobFailed(RuntimeError):
    """A job could not be done; the message is for the user."""


def quantize(request: Quantize) -> Quantized:
    """Write request.dst as request.quant from request.src, atomically."""
    started = time.perf_counter()
    params = L.llama_model_quantize_default_params()
    params.ftype = quant_type(request.quant).llama_ftype
    params.allow_requantize = True
    params.nthread = request.threads or physical_cores()
    with atomic_path(request.dst) as tmp:
        result = L.llama_model_quantize(str(request.src).encode(), str(tmp).encode(), ctypes.byref(params))
        if result != 0:
            raise JobFailed(
                f"llama_model_quantize failed for {request.quant} (code {result}); see the engine log"
            )
    return Quantized(request.dst, os.path.getsize(request.dst), time.perf_counter() - started)


def dry_run(request: DryRun) -> MemoryBreakdown:
    """Return what loading request.path would allocate, from llama.cpp's no_alloc mode.

    no_alloc needs load_mode NONE: with MMAP llama.cpp aborts the whole process
    (GGML_ASSERT(!ml.no_alloc)), which is one reason this runs in the engine process.
    """
    started = time.perf_counter()
    lines: list[str] = []
    model_params = L.llama_model_default_params()
    model_params.n_gpu_layers = ALL_LAYERS if request.gpu_layers < 0 else request.gpu_layers
    model_params.no_alloc = True
    model_params.load_mode = L.LLAMA_LOAD_MODE_NONE
    with logs.capture(lines):
        model = L.llama_model_load_from_file(request.path.encode(), model_params)
        if not model:
            raise JobFailed("llama.cpp could not read the model for a dry run")
        try:
            ctx_params = L.llama_context_default_params()
            ctx_params.n_ctx = request.n_ctx
            ctx_params.n_batch = ctx_params.n_ubatch = min(request.n_batch, request.n_ctx)
            ctx = L.llama_init_from_model(model, ctx_params)
            if not ctx:
                raise JobFailed("llama.cpp could not plan a context for the dry run")
            n_layers = L.llama_model_n_layer(model)
            model_bytes = L.llama_model_size(model)
            L.llama_free(ctx)
        finally:
            L.llama_model_free(model)
    sizes = logs.buffer_sizes(lines)
    gpu_layers = n_layers if request.gpu_layers < 0 else min(request.gpu_layers, n_layers)
    if not L.llama_supports_gpu_offload():
        gpu_layers = 0
    return MemoryBreakdown(
        path=request.path,
        n_ctx=request.n_ctx,
        gpu_layers=gpu_layers,
        n_layers=n_layers,
        model_bytes=model_bytes,
        host_weights_bytes=0,  # no_alloc reports 0 for weights; the caller splits them from the header
        device_weights_bytes=0,
        host_kv_bytes=sizes["host KV"],
        device_kv_bytes=sizes["device KV"],
        host_compute_bytes=sizes["host compute"],
        device_compute_bytes=sizes["device compute"],
        output_bytes=sizes["host output"] + sizes["device output"],
        seconds=time.perf_counter() - started,
    )
