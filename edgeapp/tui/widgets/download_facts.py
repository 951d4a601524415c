"""What the downloads screen says about a file before and after a download: the header-only fit
check, and a title and next step for each way a download can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeapp.errors import (
    ChecksumMismatch,
    CorruptModelFile,
    DownloadError,
    DownloadIncomplete,
    EdgeappError,
    NotEnoughDiskSpace,
    OfflineError,
)
from edgeapp.units import format_bytes

if TYPE_CHECKING:
    from edgeapp.estimate import MemoryEstimate
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

    The verdict is the picker's own (edgeapp.pick.judge_header); this only words it.
    """
    from edgeapp.pick import judge_header

    candidate = judge_header(header, hw, n_ctx, headroom)
    usable_ram = f"{format_bytes(headroom.ram_budget(hw))} usable RAM"
    if candidate.verdict == "gpu" and not hw.gpus:
        return (
            f"fits on the shared-memory GPU: needs {format_bytes(candidate.ram_bytes)} of {usable_ram}",
            candidate.estimate,
        )
    if candidate.verdict == "gpu":
        usable_vram = format_bytes(headroom.vram_budget(hw))
        return (
            f"fits entirely on the GPU: {format_bytes(candidate.vram_bytes)} of {usable_vram} usable VRAM",
            candidate.estimate,
        )
    if candidate.verdict == "partial":
        return (
            f"partial offload: {candidate.gpu_layers} of {candidate.n_layers} layers on the GPU, "
            f"{format_bytes(candidate.ram_bytes)} of {usable_ram}",
            candidate.estimate,
        )
    if candidate.verdict == "cpu":
        return f"runs on the CPU: {format_bytes(candidate.ram_bytes)} of {usable_ram}", candidate.estimate
    return f"too large: needs {format_bytes(candidate.ram_bytes)} of RAM, {usable_ram}", candidate.estimate
