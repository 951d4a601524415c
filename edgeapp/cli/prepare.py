"""Steps every command that runs a model shares: resolve the REF, get its file, check it, check
that it fits, and settle the GPU layers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeapp.errors import ModelTooLarge, UsageError

if TYPE_CHECKING:
    from edgeapp.estimate import MemoryEstimate
    from edgeapp.hardware import HardwareInfo
    from edgeapp.refs import ResolvedModel


def add_run_flags(parser: argparse.ArgumentParser, *, ctx_default: int = 2048) -> None:
    """Add --ctx, --gpu-layers, --threads and --force to a command that loads a model."""
    parser.add_argument(
        "--ctx",
        type=int,
        default=ctx_default,
        metavar="N",
        help=f"context size in tokens (default {ctx_default})",
    )
    parser.add_argument(
        "--gpu-layers",
        default="auto",
        metavar="N|auto|all",
        help="layers to offload to the GPU: a number, 'all', or 'auto' (the picker's choice; default)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, metavar="N", help="CPU threads (default: physical cores)"
    )
    parser.add_argument("--force", action="store_true", help="load even if the estimate says it will not fit")


def progress_to_stderr(message: str) -> None:
    """Print a progress line on stderr (derivations, downloads)."""
    print(f"edgeapp: {message}…", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Prepared:
    model: ResolvedModel
    gpu_layers: int
    estimate: MemoryEstimate
    hardware: HardwareInfo


def prepare_model(
    ref: str, n_ctx: int, gpu_layers_arg: str, *, force: bool = False, quiet: bool = False
) -> Prepared:
    """Return a model ready to load: file present and valid, fit checked, GPU layers decided."""
    from edgeapp.gguf_file import read_header
    from edgeapp.hardware import probe_hardware
    from edgeapp.pick import Headroom, auto_gpu_layers
    from edgeapp.refs import materialize, resolve
    from edgeapp.settings import load_settings, parse_gpu_layers

    if n_ctx < 16:
        raise UsageError(f"--ctx must be at least 16 tokens, not {n_ctx}")
    model = materialize(resolve(ref), None if quiet else progress_to_stderr)
    assert model.path is not None
    read_header(model.path)  # CorruptModelFile before llama.cpp ever sees a bad file
    hw = probe_hardware()
    try:
        layers = parse_gpu_layers(gpu_layers_arg)
    except ValueError as error:
        raise UsageError(str(error)) from None
    settings = load_settings()
    headroom = Headroom(settings.min_free_ram_bytes, settings.min_free_ram_fraction)
    gpu_layers = auto_gpu_layers(model, hw, n_ctx, headroom) if layers == "auto" else int(layers)
    estimate = check_fit(model, hw, n_ctx, gpu_layers, headroom, force=force, quiet=quiet)
    return Prepared(model, gpu_layers, estimate, hw)


def check_fit(model, hw, n_ctx: int, gpu_layers: int, headroom, *, force: bool, quiet: bool):  # type: ignore[no-untyped-def]
    """Return the estimate; raise ModelTooLarge (with the numbers) unless it fits or `force`."""
    from edgeapp.estimate import estimate_memory
    from edgeapp.pick import gpu_usable

    estimate = estimate_memory(model, n_ctx, gpu_layers, gpu=gpu_usable(hw))
    budget = headroom.ram_budget(hw)
    if estimate.ram_bytes > budget:
        message = (
            f"{model.label} needs about {estimate.ram_bytes / 1e9:.2f} GB of RAM at {n_ctx} tokens "
            f"but {budget / 1e9:.2f} GB may be used ({hw.ram.available_bytes / 1e9:.2f} GB available, "
            f"keeping {(hw.ram.available_bytes - budget) / 1e9:.2f} GB free); try a smaller quant "
            "(`edgeapp pick`) or --ctx, or pass --force to load it anyway"
        )
        if not force:
            raise ModelTooLarge(message, estimate.ram_bytes, budget)
        if not quiet:
            print(f"edgeapp: warning: {message}", file=sys.stderr)
    return estimate
