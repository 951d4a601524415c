"""How the TUI turns a REF and the settings into a model file and run settings (blocking; workers call it).

Resolves the REF (with the picker's quant for a catalog model named without one), derives default
quants, resolves "auto" GPU layers, and builds the `RunSettings` both the chat and the compare
screens run with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from edgeapp.errors import EdgeappError
from edgeapp.runs import RunResult, RunSettings
from edgeapp.settings import Settings, parse_gpu_layers

if TYPE_CHECKING:
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import GenerationStats, Loaded
    from edgeapp.hardware import HardwareInfo
    from edgeapp.pick import Pick
    from edgeapp.refs import ResolvedModel

def resolve_gpu_layers(value: str, model: ResolvedModel, hardware: HardwareInfo | None, n_ctx: int) -> int:
    """Return the layer count to offload (-1 = all) for a settings value ("auto", "all", "N")."""
    parsed = parse_gpu_layers(value)
    if hardware is not None and not hardware.gpu_offload_supported:
        return 0  # a CPU build of llama.cpp: offloading would only fail
    if parsed != "auto":
        return int(parsed)
    if hardware is None or not (hardware.gpus or hardware.unified_memory):
        return 0
    from edgeapp.pick import auto_gpu_layers

    return int(auto_gpu_layers(model, hardware, n_ctx))


def choose_ref(ref: str, settings: Settings, hardware: HardwareInfo | None) -> str:
    """Return `ref` with the picker's quant when it names a catalog model without one."""
    from edgeapp.refs import looks_like_path, split_ref

    if looks_like_path(ref):
        return ref
    model_id, quant = split_ref(ref)
    if quant is not None or model_id.lower() == "default" or hardware is None:
        return ref
    from edgeapp.pick import Headroom, pick_quant

    headroom = Headroom(
        min_free_ram_bytes=settings.min_free_ram_bytes, min_free_ram_fraction=settings.min_free_ram_fraction
    )
    quant = local_choice(pick_quant(ref, hardware, n_ctx=settings.n_ctx, headroom=headroom))
    if quant is None:
        raise EdgeappError(
            f"no quant of {model_id} fits this machine; choose a smaller model on the models screen"
        )
    return f"{model_id}:{quant}"


def local_choice(pick: Pick) -> str | None:
    """Return the picker's quant if it is downloaded, else the most precise downloaded one that fits.

    The chat runs what is on disk: when the recommendation is not downloaded but another quant
    that fits is, that one is used; with none downloaded, the recommendation (loading it then
    says how to download it).
    """
    from edgeapp.quants import quant_rank

    fitting = [c for c in pick.candidates if c.downloaded and c.verdict != "too_large"]
    if pick.quant is not None and any(c.quant == pick.quant for c in fitting):
        return pick.quant
    if fitting:
        return max(fitting, key=lambda c: quant_rank(c.quant)).quant
    return pick.quant


def plan_load(
    ref: str,
    settings: Settings,
    hardware: HardwareInfo | None,
    *,
    threads: int | None = None,
    on_status: Callable[[str], None] | None = None,
) -> tuple[ResolvedModel, RunSettings]:
    """Return the model file (derived or checked) and run settings for `ref` (blocks: use a worker)."""
    from edgeapp.refs import materialize, resolve

    model = resolve(choose_ref(ref, settings, hardware))
    if model.path is None:
        if on_status is not None:
            on_status(f"deriving {model.label}…")
        model = materialize(model, on_progress=on_status)
    run = RunSettings(
        n_ctx=settings.n_ctx,
        gpu_layers=resolve_gpu_layers(settings.gpu_layers, model, hardware, settings.n_ctx),
        threads=threads if threads is not None else settings.threads,
        max_tokens=settings.max_tokens,
        sampling=settings.sampling(),
    )
    return model, run


def run_result(
    client: EngineClient,
    model: ResolvedModel,
    run: RunSettings,
    loaded: Loaded,
    stats: GenerationStats,
    timeline: tuple[tuple[float, int], ...],
) -> RunResult:
    """Return the RunResult of a load and a reply, measured like `edgeapp.runs.run_prompt`."""
    monitor = client.monitor
    return RunResult(
        model=model,
        settings=run,
        loaded=loaded,
        stats=stats,
        peak_rss_bytes=max(monitor.peak_rss_bytes if monitor else 0, stats.max_rss_bytes),
        peak_vram_bytes=monitor.peak_vram_bytes if monitor else None,
        size_bytes=os.path.getsize(model.path) if model.path else 0,
        token_times=timeline,
    )
