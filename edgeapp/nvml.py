"""NVIDIA GPUs through NVML (nvidia-ml-py): what is installed, and how much VRAM a process uses.

Every NVML failure (no package, no library, no driver, a driver error) becomes an empty result
and a one-line reason, never an exception: most machines edgeapp runs on have no NVIDIA GPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import sys
from types import ModuleType
from typing import Any

from edgeapp.hardware import GpuInfo

REASON_NOT_INSTALLED = "nvidia-ml-py not installed"
REASON_LIBRARY_NOT_FOUND = "NVML library not found (no NVIDIA driver)"
REASON_DRIVER_NOT_LOADED = "NVIDIA driver not loaded"
REASON_NO_DEVICES = "NVML found no NVIDIA GPU"


def _text(value: Any) -> str:
    # Old pynvml releases return bytes, new ones str.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _library_missing() -> bool:
    """Return True when libnvidia-ml cannot be loaded, checked without importing pynvml.

    Importing pynvml costs ~50 ms, most of the hardware probe's budget; a failed dlopen of the
    same name pynvml loads costs well under 1 ms. Windows keeps NVML in several places, so it
    is left to pynvml there.
    """
    if sys.platform.startswith("win"):
        return False
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return True
    return False


def _load_module(nvml_module: ModuleType | None) -> tuple[ModuleType | None, str | None]:
    if nvml_module is not None:
        return nvml_module, None
    # Both checks are cheap and spare the 50 ms import on machines without NVIDIA.
    try:
        installed = importlib.util.find_spec("pynvml") is not None
    except (ImportError, ValueError):
        installed = False
    if not installed:
        return None, REASON_NOT_INSTALLED
    if _library_missing():
        return None, REASON_LIBRARY_NOT_FOUND
    try:
        import pynvml
    except ImportError:
        return None, REASON_NOT_INSTALLED
    return pynvml, None


def _error_reason(nvml: ModuleType, error: Exception) -> str:
    if isinstance(error, nvml.NVMLError_LibraryNotFound):
        return REASON_LIBRARY_NOT_FOUND
    if isinstance(error, nvml.NVMLError_DriverNotLoaded):
        return REASON_DRIVER_NOT_LOADED
    return f"NVML error: {error}"


def _init(nvml: ModuleType) -> str | None:
    """Initialise NVML; return None on success, else the reason it failed."""
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as error:
        return _error_reason(nvml, error)
    return None


def _read_gpu(nvml: ModuleType, index: int, driver: str) -> GpuInfo:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
    return GpuInfo(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        vram_total_bytes=int(memory.total),
        vram_free_bytes=int(memory.free),
        driver=driver,
        compute_capability=f"{major}.{minor}",
    )


def probe_gpus(nvml_module: ModuleType | None = None) -> tuple[tuple[GpuInfo, ...], str | None]:
    """Return the NVIDIA GPUs NVML sees and None, or an empty tuple and why there are none.

    `nvml_module` replaces `pynvml` (tests pass small fakes raising pynvml's exception classes).
    """
    nvml, reason = _load_module(nvml_module)
    if nvml is None:
        return (), reason
    reason = _init(nvml)
    if reason is not None:
        return (), reason
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = tuple(_read_gpu(nvml, i, driver) for i in range(nvml.nvmlDeviceGetCount()))
    except nvml.NVMLError as error:
        return (), _error_reason(nvml, error)
    finally:
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()
    return gpus, (None if gpus else REASON_NO_DEVICES)


class ProcessVramReader:
    """Reads how much VRAM one process holds, summed over all GPUs; cheap enough to call every 50 ms.

    NVML is initialised once (on `open()` or entering the `with` block) and the device handles
    kept, so a reading costs two NVML calls per GPU. Use as a context manager, or call `open()`
    and `close()`. `reason` says why readings are None.

    NVML reports host PIDs: inside a container with its own PID namespace the child's PID is not
    the one NVML lists, and `used_bytes` returns 0.
    """

    def __init__(self, nvml_module: ModuleType | None = None) -> None:
        self._nvml_module = nvml_module
        self._nvml: ModuleType | None = None
        self._handles: tuple[Any, ...] = ()
        self.reason: str | None = "not opened"

    def open(self) -> ProcessVramReader:
        """Initialise NVML and collect device handles; on failure readings are None."""
        if self._nvml is not None:
            return self
        nvml, reason = _load_module(self._nvml_module)
        if nvml is None:
            self.reason = reason
            return self
        reason = _init(nvml)
        if reason is not None:
            self.reason = reason
            return self
        try:
            count = nvml.nvmlDeviceGetCount()
            self._handles = tuple(nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count))
        except nvml.NVMLError as error:
            self.reason = _error_reason(nvml, error)
            with contextlib.suppress(nvml.NVMLError):
                nvml.nvmlShutdown()
            return self
        self._nvml = nvml
        self.reason = None if self._handles else REASON_NO_DEVICES
        return self

    def close(self) -> None:
        """Shut NVML down (once); later readings are None."""
        nvml, self._nvml, self._handles = self._nvml, None, ()
        self.reason = "closed"
        if nvml is not None:
            with contextlib.suppress(nvml.NVMLError):
                nvml.nvmlShutdown()

    def __enter__(self) -> ProcessVramReader:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def available(self) -> bool:
        """Return True when NVML is initialised and sees at least one GPU."""
        return self._nvml is not None and bool(self._handles)

    def used_bytes(self, pid: int) -> int | None:
        """Return the VRAM `pid` holds over all GPUs (0 if none), or None when NVML cannot tell.

        None means NVML is unavailable, failed during this reading, or lists the process without
        a number (Windows WDDM, some MIG setups).
        """
        nvml = self._nvml
        if nvml is None:
            return None
        total = 0
        found_without_number = False
        try:
            for handle in self._handles:
                per_device = _pid_usage_on_device(nvml, handle, pid)
                if per_device is None:
                    found_without_number = True
                else:
                    total += per_device
        except nvml.NVMLError:
            return None
        if total == 0 and found_without_number:
            return None
        return total


def _pid_usage_on_device(nvml: ModuleType, handle: Any, pid: int) -> int | None:
    """Return the bytes `pid` holds on one device (0 if absent, None if listed without a number)."""
    # A process with both a CUDA and a graphics context ("C+G") is listed in both lists with the
    # same allocation: take the larger entry rather than adding them.
    listed = False
    amounts: list[int] = []
    for getter in (nvml.nvmlDeviceGetComputeRunningProcesses, nvml.nvmlDeviceGetGraphicsRunningProcesses):
        try:
            processes = getter(handle)
        except getattr(nvml, "NVMLError_NotSupported", ()):
            # Compute-only boards may not answer for graphics processes, and the reverse.
            continue
        for process in processes:
            if process.pid != pid:
                continue
            listed = True
            if process.usedGpuMemory is not None:
                amounts.append(int(process.usedGpuMemory))
    if listed and not amounts:
        return None
    return max(amounts, default=0)
