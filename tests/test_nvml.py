"""NVML GPU probing and per-process VRAM readings, against small NVML stand-ins that raise pynvml's real errors."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pynvml
import pytest

from edgeapp import nvml
from edgeapp.hardware import GpuInfo
from edgeapp.nvml import ProcessVramReader, probe_gpus

GIB = 1024**3


def nvml_error(code: int) -> pynvml.NVMLError:
    """Return the exception pynvml itself raises for an NVML return code (mapped to its subclass)."""
    return pynvml.NVMLError(code)


class FakeNvml:
    """Just enough of the pynvml module: devices, processes, and an error to raise where asked."""

    NVMLError = pynvml.NVMLError
    NVMLError_LibraryNotFound = pynvml.NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = pynvml.NVMLError_DriverNotLoaded
    NVMLError_NotSupported = pynvml.NVMLError_NotSupported

    def __init__(self, devices=(), init_error=None, fail_on=None, driver="550.54.15"):
        self.devices = list(devices)
        self.init_error = init_error
        self.fail_on = fail_on or {}
        self.driver = driver
        self.init_calls = 0
        self.shutdown_calls = 0
        self.process_queries = 0

    def _maybe_fail(self, name):
        if name in self.fail_on:
            raise nvml_error(self.fail_on[name])

    def nvmlInit(self):
        self.init_calls += 1
        if self.init_error is not None:
            raise nvml_error(self.init_error)

    def nvmlShutdown(self):
        self.shutdown_calls += 1

    def nvmlSystemGetDriverVersion(self):
        return self.driver

    def nvmlDeviceGetCount(self):
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.devices[index]

    def nvmlDeviceGetName(self, handle):
        return handle["name"]

    def nvmlDeviceGetMemoryInfo(self, handle):
        self._maybe_fail("nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(
            total=handle["total"], free=handle["free"], used=handle["total"] - handle["free"]
        )

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return handle["cc"]

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        self.process_queries += 1
        self._maybe_fail("nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in handle.get("compute", ())]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        self._maybe_fail("nvmlDeviceGetGraphicsRunningProcesses")
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in handle.get("graphics", ())]


def h100(**extra):
    return {
        "name": "NVIDIA H100 80GB HBM3",
        "total": 85_520_809_984,
        "free": 84_987_740_160,
        "cc": (9, 0),
        **extra,
    }


def rtx(**extra):
    # Old pynvml releases return names as bytes.
    return {
        "name": b"NVIDIA GeForce RTX 3050 Laptop GPU",
        "total": 4 * GIB,
        "free": 3 * GIB,
        "cc": (8, 6),
        **extra,
    }


def test_two_gpus_are_read_with_all_fields():
    fake = FakeNvml([h100(), rtx()])
    gpus, reason = probe_gpus(fake)
    assert reason is None
    assert gpus == (
        GpuInfo(0, "NVIDIA H100 80GB HBM3", 85_520_809_984, 84_987_740_160, "550.54.15", "9.0"),
        GpuInfo(1, "NVIDIA GeForce RTX 3050 Laptop GPU", 4 * GIB, 3 * GIB, "550.54.15", "8.6"),
    )
    assert (fake.init_calls, fake.shutdown_calls) == (1, 1)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVML library not found (no NVIDIA driver)"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "NVIDIA driver not loaded"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "NVML error: Insufficient Permissions"),
    ],
)
def test_init_failures_give_an_empty_list_and_a_reason(code, reason):
    fake = FakeNvml([h100()], init_error=code)
    assert probe_gpus(fake) == ((), reason)
    # nvmlInit failed, so there is nothing to shut down.
    assert fake.shutdown_calls == 0


def test_an_error_while_reading_devices_still_shuts_nvml_down():
    fake = FakeNvml([h100()], fail_on={"nvmlDeviceGetMemoryInfo": pynvml.NVML_ERROR_GPU_IS_LOST})
    assert probe_gpus(fake) == ((), "NVML error: GPU is lost")
    assert fake.shutdown_calls == 1


def test_no_devices_is_an_empty_list_with_a_reason():
    assert probe_gpus(FakeNvml([])) == ((), "NVML found no NVIDIA GPU")


def test_missing_nvidia_ml_py_is_reported(monkeypatch):
    # None in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert probe_gpus() == ((), "nvidia-ml-py not installed")
    with ProcessVramReader() as reader:
        assert reader.used_bytes(os.getpid()) is None
        assert reader.reason == "nvidia-ml-py not installed"


def test_real_pynvml_on_this_machine_never_raises():
    gpus, reason = probe_gpus()
    real_gpus, real_reason = probe_gpus(pynvml)
    if nvml._library_missing():
        # The CI machines: no driver, so no libnvidia-ml.
        assert (gpus, reason) == ((), nvml.REASON_LIBRARY_NOT_FOUND)
        assert (real_gpus, real_reason) == ((), nvml.REASON_LIBRARY_NOT_FOUND)
    else:
        assert bool(gpus) == (reason is None)
        assert [g.name for g in gpus] == [g.name for g in real_gpus]


def test_vram_of_a_process_is_summed_over_gpus_without_double_counting():
    # pid 100 has a CUDA+graphics context on GPU 0 (listed twice, same allocation) and 512 MiB on GPU 1.
    fake = FakeNvml(
        [
            h100(compute=[(100, GIB), (7, 3 * GIB)], graphics=[(100, GIB)]),
            rtx(compute=[(100, GIB // 2)]),
        ]
    )
    with ProcessVramReader(fake) as reader:
        assert reader.available
        assert reader.reason is None
        assert reader.used_bytes(100) == GIB + GIB // 2
        assert reader.used_bytes(7) == 3 * GIB
        assert reader.used_bytes(4242) == 0
        for _ in range(20):
            reader.used_bytes(100)
    # One init for all readings, one shutdown at the end.
    assert (fake.init_calls, fake.shutdown_calls) == (1, 1)
    assert fake.process_queries == 2 * 23
    assert reader.used_bytes(100) is None


def test_process_listed_without_a_number_reads_as_unknown():
    fake = FakeNvml([h100(compute=[(100, None)])])
    with ProcessVramReader(fake) as reader:
        assert reader.used_bytes(100) is None
        assert reader.used_bytes(5) == 0


def test_graphics_query_not_supported_is_ignored():
    fake = FakeNvml(
        [h100(compute=[(100, GIB)])],
        fail_on={"nvmlDeviceGetGraphicsRunningProcesses": pynvml.NVML_ERROR_NOT_SUPPORTED},
    )
    with ProcessVramReader(fake) as reader:
        assert reader.used_bytes(100) == GIB


def test_driver_error_during_a_reading_gives_none():
    fake = FakeNvml(
        [h100(compute=[(100, GIB)])],
        fail_on={"nvmlDeviceGetComputeRunningProcesses": pynvml.NVML_ERROR_GPU_IS_LOST},
    )
    with ProcessVramReader(fake) as reader:
        assert reader.used_bytes(100) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVML library not found (no NVIDIA driver)"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "NVIDIA driver not loaded"),
    ],
)
def test_reader_without_nvml_reads_none(code, reason):
    fake = FakeNvml([h100(compute=[(100, GIB)])], init_error=code)
    with ProcessVramReader(fake) as reader:
        assert not reader.available
        assert reader.reason == reason
        assert reader.used_bytes(100) is None
    assert fake.shutdown_calls == 0


def test_real_reader_on_this_machine():
    with ProcessVramReader() as reader:
        used = reader.used_bytes(os.getpid())
        if reader.available:
            assert used is not None and used >= 0
        else:
            assert used is None
            assert reader.reason
