"""Choose the quant (and GPU layers) for this machine, and say why in one sentence.

Every quant gets a verdict from its memory estimate:
- gpu: all layers fit in free VRAM with the margin;
- partial: N of M layers fit in VRAM, the rest and the KV cache of those layers in RAM;
- cpu: no GPU (or nothing fits in it), and it fits in RAM with the headroom;
- too_large: it does not fit in RAM even with every layer the GPU can take.
The pick is the most precise quant among those that run fully on the GPU; failing that, the most
precise one that fits at all, except where more bytes buy no quality (unless the user asks for the
highest quality anyway):
- on small boards without a GPU (8 GiB of RAM or less: Raspberry Pi and the like) nothing above
  Q4_K_M: memory bandwidth sets the speed there, and Q4_K_M keeps most of the quality at about half
  of Q8_0's bytes;
- without a GPU, not F16 when Q8_0 fits: twice the bytes per token for about 0.2% perplexity;
- for the bundled model, nothing above its Q4_1 source: the derived quants cannot be more precise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from edgeapp.estimate import MemoryEstimate, estimate_memory
from edgeapp.quants import QUANTS, quant_rank

if TYPE_CHECKING:
    from edgeapp.gguf_file import GgufHeader
    from edgeapp.hardware import HardwareInfo
    from edgeapp.refs import ResolvedModel

GIB = 1 << 30
SMALL_BOARD_RAM_BYTES = 8 * GIB + GIB // 2  # "8 GB" boards report a little under 8 GiB
SMALL_BOARD_CEILING = "Q4_K_M"

Verdict = Literal["gpu", "partial", "cpu", "too_large"]


@dataclass(frozen=True)
class Headroom:
    """How much memory to leave free for the rest of the machine."""

    min_free_ram_bytes: int = GIB
    min_free_ram_fraction: float = 0.2
    vram_margin_bytes: int = 512 * 1024 * 1024

    def ram_budget(self, hw: HardwareInfo) -> int:
        """Return the RAM the engine may use: available RAM minus the larger reserve."""
        reserve = max(self.min_free_ram_bytes, int(self.min_free_ram_fraction * hw.ram.total_bytes))
        return max(0, hw.ram.available_bytes - reserve)

    def vram_budget(self, hw: HardwareInfo) -> int:
        """Return the VRAM the engine may use on the GPU with the most free memory."""
        if not hw.gpus:
            return 0
        return max(0, max(g.vram_free_bytes for g in hw.gpus) - self.vram_margin_bytes)


@dataclass(frozen=True)
class Candidate:
    quant: str
    verdict: Verdict
    gpu_layers: int
    n_layers: int
    ram_bytes: int
    vram_bytes: int
    estimate: MemoryEstimate
    downloaded: bool = False

    def describe(self) -> str:
        """Return the verdict as a short badge: GPU, partial 12/32, CPU, too large."""
        if self.verdict == "partial":
            return f"partial {self.gpu_layers}/{self.n_layers}"
        return {"gpu": "GPU", "cpu": "CPU", "too_large": "too large"}[self.verdict]

    def to_json(self) -> dict[str, Any]:
        return {
            "quant": self.quant,
            "verdict": self.verdict,
            "gpu_layers": self.gpu_layers,
            "n_layers": self.n_layers,
            "ram_bytes": self.ram_bytes,
            "vram_bytes": self.vram_bytes,
            "exact": self.estimate.exact,
            "downloaded": self.downloaded,
            "estimate": self.estimate.to_json(),
        }


@dataclass(frozen=True)
class Pick:
    model: str
    quant: str | None
    gpu_layers: int
    n_ctx: int
    reason: str
    estimate: MemoryEstimate | None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    ram_budget_bytes: int = 0
    vram_budget_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "quant": self.quant,
            "gpu_layers": self.gpu_layers,
            "n_ctx": self.n_ctx,
            "reason": self.reason,
            "estimate": self.estimate.to_json() if self.estimate else None,
            "candidates": [c.to_json() for c in self.candidates],
            "ram_budget_bytes": self.ram_budget_bytes,
            "vram_budget_bytes": self.vram_budget_bytes,
        }


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n < 10e9 else f"{n / 1e9:.1f} GB"


def gpu_usable(hw: HardwareInfo) -> bool:
    """Return True if layers can go to a GPU: llama.cpp built with offload and a GPU to put them on."""
    return hw.gpu_offload_supported and (bool(hw.gpus) or hw.unified_memory)


EstimateAt = Callable[[int, bool], MemoryEstimate]  # (gpu layers, on a GPU?) -> estimate


def judge_with(estimate_at: EstimateAt, label: str | None, hw: HardwareInfo, headroom: Headroom) -> Candidate:
    """Return the verdict for one model file: the most GPU layers that fit, and whether it fits at all.

    `label` names the quant; None takes it from the estimate (a local file's header).
    """
    ram_budget = headroom.ram_budget(hw)
    cpu_only = estimate_at(0, False)
    n_layers = cpu_only.n_layers
    label = label or cpu_only.quant or "?"
    if gpu_usable(hw) and hw.unified_memory and not hw.gpus:
        # Jetson, Apple Silicon: the GPU shares system RAM, so full offload costs RAM, not VRAM.
        full = estimate_at(-1, True)
        needed = full.ram_bytes + full.vram_bytes
        verdict: Verdict = "gpu" if needed <= ram_budget else "too_large"
        return Candidate(label, verdict, n_layers + 1 if verdict == "gpu" else 0, n_layers, needed, 0, full)
    if gpu_usable(hw):
        vram_budget = headroom.vram_budget(hw)
        full = estimate_at(-1, True)
        if full.vram_bytes <= vram_budget and full.ram_bytes <= ram_budget:
            return Candidate(label, "gpu", n_layers + 1, n_layers, full.ram_bytes, full.vram_bytes, full)
        layers = _most_layers_fitting(estimate_at, n_layers, vram_budget)
        if layers > 0:
            partial = estimate_at(layers, True)
            verdict = "partial" if partial.ram_bytes <= ram_budget else "too_large"
            return Candidate(label, verdict, layers, n_layers, partial.ram_bytes, partial.vram_bytes, partial)
    verdict = "cpu" if cpu_only.ram_bytes <= ram_budget else "too_large"
    return Candidate(label, verdict, 0, n_layers, cpu_only.ram_bytes, 0, cpu_only)


def _most_layers_fitting(estimate_at: EstimateAt, n_layers: int, budget: int) -> int:
    """Return the largest layer count whose VRAM estimate fits the budget (binary search)."""
    low, high = 0, n_layers
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_at(middle, True).vram_bytes <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def judge(
    model: ResolvedModel, quant: str | None, hw: HardwareInfo, n_ctx: int, headroom: Headroom
) -> Candidate:
    """Return the verdict for one quant of `model` on `hw` (estimated for hw's CPU, not this one's)."""
    features = hw.cpu.features

    def estimate_at(layers: int, gpu: bool) -> MemoryEstimate:
        return estimate_memory(model, n_ctx, layers, quant, gpu=gpu, features=features)

    return judge_with(estimate_at, quant or model.quant, hw, headroom)


def judge_header(header: GgufHeader, hw: HardwareInfo, n_ctx: int, headroom: Headroom) -> Candidate:
    """Return the verdict for a file known only by its header (e.g. read from the hub before a download)."""
    from edgeapp.estimate import estimate_shape, shape_from_header, shape_signature
    from edgeapp.memory_calibration import cached_dry_run

    shape = shape_from_header(header, hw.cpu.features)

    def estimate_at(layers: int, gpu: bool) -> MemoryEstimate:
        dry_run = cached_dry_run(shape_signature(shape), n_ctx, layers if gpu else 0)
        return estimate_shape(shape, n_ctx, layers, gpu=gpu, dry_run=dry_run)

    return judge_with(estimate_at, header.quant_label(), hw, headroom)


def candidate_quants(model: ResolvedModel) -> tuple[str | None, ...]:
    """Return the quants to judge: the catalog's, the full ladder for default, the file's own."""
    if model.kind == "catalog" and model.catalog is not None:
        return model.catalog.quants
    if model.kind == "default":
        return QUANTS
    return (None,)


def pick_quant(
    model_ref: str | ResolvedModel,
    hw: HardwareInfo,
    n_ctx: int = 2048,
    headroom: Headroom | None = None,
    *,
    highest_quality: bool = False,
) -> Pick:
    """Return the pick for a model on `hw`, with a verdict for every quant."""
    from edgeapp.refs import ResolvedModel as _Resolved
    from edgeapp.refs import downloaded_quants, resolve

    model = model_ref if isinstance(model_ref, _Resolved) else resolve(model_ref)
    headroom = headroom or Headroom()
    quants = (model.quant,) if model.quant and model.kind != "default" else candidate_quants(model)
    if model.kind == "default" and model.quant and model.ref.count(":"):
        quants = (model.quant,)
    have = downloaded_quants(model.catalog) if model.kind == "catalog" and model.catalog else {}
    candidates = tuple(
        _with_download_state(judge(model, q, hw, n_ctx, headroom), model, q, have) for q in quants
    )
    return _choose(model, candidates, hw, n_ctx, headroom, highest_quality)


def _with_download_state(
    candidate: Candidate, model: ResolvedModel, quant: str | None, have: dict
) -> Candidate:
    if model.kind == "catalog":
        downloaded = quant in have
    elif model.kind == "default":
        from edgeapp import bundled

        downloaded = quant is None or bundled.is_derived(quant) or quant == bundled.BUNDLED_QUANT
    else:
        downloaded = True
    return Candidate(**{**candidate.__dict__, "downloaded": downloaded})


def _is_small_board(hw: HardwareInfo) -> bool:
    return not gpu_usable(hw) and hw.ram.total_bytes <= SMALL_BOARD_RAM_BYTES


def _apply_ceilings(
    model: ResolvedModel, fitting: list[Candidate], hw: HardwareInfo, highest_quality: bool
) -> tuple[list[Candidate], str]:
    """Drop quants that cost bytes without buying quality here; return them and the reason."""
    if highest_quality or len(fitting) < 2:
        return fitting, ""
    rules: list[tuple[int, str]] = []
    if model.kind == "default":
        from edgeapp import bundled

        rules.append(
            (
                quant_rank(bundled.BUNDLED_QUANT),
                f"quants above it are derived from the bundled {bundled.BUNDLED_QUANT} file and cannot be more precise",
            )
        )
    if _is_small_board(hw):
        rules.append(
            (
                quant_rank(SMALL_BOARD_CEILING),
                "higher quants fit but run slower on a small board's memory bandwidth",
            )
        )
    if not gpu_usable(hw):
        rules.append(
            (quant_rank("Q8_0"), "F16 reads twice Q8_0's bytes per token on a CPU for about 0.2% perplexity")
        )
    for ceiling, why in sorted(rules):
        allowed = [c for c in fitting if quant_rank(c.quant) <= ceiling]
        if allowed and len(allowed) < len(fitting):
            return allowed, why
    return fitting, ""


def _choose(
    model: ResolvedModel,
    candidates: tuple[Candidate, ...],
    hw: HardwareInfo,
    n_ctx: int,
    headroom: Headroom,
    highest_quality: bool,
) -> Pick:
    ram_budget, vram_budget = headroom.ram_budget(hw), headroom.vram_budget(hw)
    fitting = [c for c in candidates if c.verdict != "too_large"]
    fitting, capped = _apply_ceilings(model, fitting, hw, highest_quality)
    on_gpu = [c for c in fitting if c.verdict == "gpu"]
    pool = on_gpu or fitting
    if not pool:
        smallest = min(candidates, key=lambda c: c.ram_bytes)
        reason = (
            f"nothing fits: even {smallest.quant} needs {_gb(smallest.ram_bytes)} of RAM at {n_ctx} tokens "
            f"and {_gb(ram_budget)} may be used ({_gb(hw.ram.available_bytes)} available, keeping "
            f"{_gb(hw.ram.available_bytes - ram_budget)} free); try a smaller model or a shorter context"
        )
        return Pick(model.label, None, 0, n_ctx, reason, None, candidates, ram_budget, vram_budget)
    best = max(pool, key=lambda c: quant_rank(c.quant))
    reason = _reason(best, candidates, hw, n_ctx, ram_budget, vram_budget, capped)
    return Pick(
        model.model_id,
        best.quant,
        best.gpu_layers,
        n_ctx,
        reason,
        best.estimate,
        candidates,
        ram_budget,
        vram_budget,
    )


def _reason(
    best: Candidate,
    candidates: tuple[Candidate, ...],
    hw: HardwareInfo,
    n_ctx: int,
    ram_budget: int,
    vram_budget: int,
    capped: str,
) -> str:
    e = best.estimate
    parts = f"{_gb(e.weights_bytes)} weights + {_gb(e.kv_cache_bytes)} KV cache at {n_ctx} tokens"
    if best.verdict == "gpu" and hw.gpus:
        where = f"fits entirely on the {hw.gpus[0].name}: {_gb(best.vram_bytes)} of {_gb(vram_budget)} usable VRAM ({parts})"
    elif best.verdict == "gpu":
        where = (
            f"fits on the shared-memory GPU: {_gb(best.ram_bytes)} of {_gb(ram_budget)} usable RAM ({parts})"
        )
    elif best.verdict == "partial":
        where = (
            f"{best.gpu_layers} of {best.n_layers} layers fit in {_gb(vram_budget)} of usable VRAM, "
            f"the rest runs on the CPU with {_gb(best.ram_bytes)} of {_gb(ram_budget)} usable RAM"
        )
    else:
        where = f"runs on the CPU with {_gb(best.ram_bytes)} of {_gb(ram_budget)} usable RAM ({parts})"
    better = [c for c in candidates if quant_rank(c.quant) > quant_rank(best.quant)]
    if capped:
        tail = f"; {capped} (ask for the highest quality to allow them)"
    elif better:
        nxt = min(better, key=lambda c: quant_rank(c.quant))
        tail = f"; {nxt.quant} would be {nxt.describe().lower()} ({_gb(nxt.ram_bytes + nxt.vram_bytes)})"
    else:
        tail = ""
    approx = "" if e.exact else " (estimated from catalog facts)"
    return f"{best.quant} {where}{tail}{approx}."


def auto_gpu_layers(
    model: ResolvedModel, hw: HardwareInfo, n_ctx: int, headroom: Headroom | None = None
) -> int:
    """Return how many layers to offload for this file: -1 for all, 0 without a usable GPU."""
    if not gpu_usable(hw):
        return 0
    candidate = judge(model, None if model.kind == "path" else model.quant, hw, n_ctx, headroom or Headroom())
    if candidate.verdict == "gpu":
        return -1
    return candidate.gpu_layers
