"""What the downloads screen says about a file before and after a download: the header-only fit
check, and a title and next step for each way a download can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeapp.cli.output import format_bytes
from edgeapp.errors import (
    ChecksumMismatch,
    CorruptModelFile,
    DownloadError,
    DownloadIncomplete,
    EdgeappError,
    NotEnoughDiskSpace,
    OfflineError,
)

if TYPE_CHECKING:
    from edgeapp.estimate import MemoryEstimate, ModelShape
    from edgeapp.gguf_file import GgufHeader
    from edgeapp.hardware import HardwareInfo
    from edgeapp.pick import Headroom


def describe_error(error: BaseException) -> tuple[str, str]:
    """Return (title, message) for a failed download; the downloader's messages say what to do."""
    from edgeapp.downloads import DownloadCancelled, DownloadLocked, RemoteNotFound, RepoGated

    message = str(error)
    if isinstance(error, DownloadCancelled):
        return "Cancelled", f"{message} (here: Download, or g, resumes it)"
    if isinstance(error, RepoGated):
        return "Gated model (401)", message
    if isinstance(error, OfflineError):
        return "Offline", message
    if isinstance(error, RemoteNotFound):
        hint = " Check the catalog entry's file name (`edgeapp models`) or your user catalog."
        return "Not found on the hub", message + hint
    if isinstance(error, NotEnoughDiskSpace):
        return "Disk full", message
    if isinstance(error, ChecksumMismatch):
        return "Checksum mismatch", message
    if isinstance(error, DownloadIncomplete):
        return "Connection lost", f"{message} (here: Download, or g, resumes it)"
    if isinstance(error, DownloadLocked):
        return "Already downloading", message
    if isinstance(error, CorruptModelFile):
        return "Damaged file", message
    if isinstance(error, DownloadError):
        return "Download failed", message
    if isinstance(error, EdgeappError):
        return "Cannot download", message
    return (
        "Unexpected error",
        f"{type(error).__name__}: {message} (the app keeps running; please report this)",
    )


def header_fit(
    header: GgufHeader, hw: HardwareInfo, n_ctx: int, headroom: Headroom
) -> tuple[str, MemoryEstimate]:
    """Return a one-sentence fit verdict from a remote file's header, and the estimate behind it.

    The same rules as the picker's verdicts (edgeapp.pick.judge), applied to a header read from
    the hub instead of a file on disk: all layers on the GPU if they fit, else as many as fit,
    else the CPU; too large when RAM cannot hold the rest.
    """
    from edgeapp.estimate import estimate_shape, shape_from_header
    from edgeapp.pick import gpu_usable

    shape = shape_from_header(header)
    ram_budget, vram_budget = headroom.ram_budget(hw), headroom.vram_budget(hw)
    usable = f"{format_bytes(ram_budget)} usable RAM"
    if gpu_usable(hw) and hw.unified_memory and not hw.gpus:
        full = estimate_shape(shape, n_ctx, -1, gpu=True)
        needed = full.ram_bytes + full.vram_bytes
        fits = needed <= ram_budget
        verb = "fits on the shared-memory GPU" if fits else "is too large"
        return f"{verb}: needs {format_bytes(needed)} of {usable}", full
    if gpu_usable(hw):
        full = estimate_shape(shape, n_ctx, -1, gpu=True)
        if full.vram_bytes <= vram_budget and full.ram_bytes <= ram_budget:
            return (
                f"fits entirely on the GPU: {format_bytes(full.vram_bytes)} of "
                f"{format_bytes(vram_budget)} usable VRAM",
                full,
            )
        layers = _layers_fitting(shape, n_ctx, vram_budget)
        if layers > 0:
            partial = estimate_shape(shape, n_ctx, layers, gpu=True)
            if partial.ram_bytes <= ram_budget:
                return (
                    f"partial offload: {layers} of {shape.n_layers} layers on the GPU, "
                    f"{format_bytes(partial.ram_bytes)} of {usable}",
                    partial,
                )
    cpu = estimate_shape(shape, n_ctx, 0, gpu=False)
    if cpu.ram_bytes <= ram_budget:
        return f"runs on the CPU: {format_bytes(cpu.ram_bytes)} of {usable}", cpu
    return f"too large: needs {format_bytes(cpu.ram_bytes)} of RAM, {usable}", cpu


def _layers_fitting(shape: ModelShape, n_ctx: int, budget: int) -> int:
    """Return the most layers whose VRAM estimate fits `budget` (binary search, like the picker)."""
    from edgeapp.estimate import estimate_shape

    low, high = 0, shape.n_layers
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_shape(shape, n_ctx, middle, gpu=True).vram_bytes <= budget:
            low = middle
        else:
            high = middle - 1
    return low
