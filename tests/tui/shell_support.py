"""Shared pieces for the shell's TUI tests: hardware from real device trees, fixed llama.cpp facts,
and private config/data/cache directories.

Test modules import the fixtures by name: `from tests.tui.shell_support import private_dirs, ...`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgeapp.backend_info import BackendDevice, BackendInfo
from edgeapp.hardware import GpuInfo, HardwareInfo, probe_hardware
from edgeapp.nvml import REASON_LIBRARY_NOT_FOUND
from edgeapp.settings import Settings
from edgeapp.tui.app import EdgeApp
from edgeapp.tui.state import AppState

DEVICES = Path(__file__).resolve().parent.parent / "fixtures" / "devices"
GIB = 1024**3
SIZE = (120, 40)

CPU_BACKEND = BackendInfo(
    importable=True,
    llama_cpp_python_version="0.3.16",
    ggml_version="0.9.4",
    llama_cpp_commit="4abef75",
    gpu_offload_supported=False,
    mmap_supported=True,
    backends=("CPU",),
    devices=(BackendDevice("CPU", "ARM Cortex-A76", "cpu"),),
)
CUDA_BACKEND = replace(
    CPU_BACKEND,
    gpu_offload_supported=True,
    backends=("CUDA", "CPU"),
    devices=(
        BackendDevice("CUDA0", "NVIDIA GeForce RTX 4060 Laptop GPU", "gpu"),
        BackendDevice("CPU", "11th Gen Intel(R) Core(TM) i7-1165G7", "cpu"),
    ),
)
LAPTOP_CPU_BACKEND = replace(
    CPU_BACKEND, devices=(BackendDevice("CPU", "11th Gen Intel(R) Core(TM) i7-1165G7", "cpu"),)
)
JETSON_BACKEND = replace(
    CUDA_BACKEND,
    devices=(BackendDevice("CUDA0", "Orin", "gpu"), BackendDevice("CPU", "ARM Cortex-A78AE", "cpu")),
)
RTX_4060 = GpuInfo(
    index=0,
    name="NVIDIA GeForce RTX 4060 Laptop GPU",
    vram_total_bytes=8 * GIB,
    vram_free_bytes=7 * GIB + 300 * 1024**2,
    driver="550.54.14",
    compute_capability="8.9",
)


def device(name: str, *, offload: bool = False) -> HardwareInfo:
    """Return the hardware of a device tree under tests/fixtures/devices, as that device reports it.

    A copied tree is not probed for GPUs (NVML describes this machine); a Pi or a GPU-less laptop
    would say the NVML library is missing, so that is the reason shown (and no path leaks into
    snapshots).
    """
    hw = probe_hardware(DEVICES / name, gpu_offload_supported=offload)
    reason = hw.gpu_reason if hw.unified_memory else REASON_LIBRARY_NOT_FOUND
    return replace(hw, gpu_reason=reason)


def laptop_with_nvidia() -> HardwareInfo:
    """Return the x86 laptop with an RTX 4060 (8 GiB) and a CUDA build of llama.cpp."""
    return replace(device("x86-laptop-i7-1165g7", offload=True), gpus=(RTX_4060,), gpu_reason=None)


async def wait_until(pilot: Any, condition: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Let the app run until `condition()` holds; fail naming `what` if it never does (a hang guard)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.05)


def make_app(
    hardware: HardwareInfo | None = None,
    *,
    backend: BackendInfo | None = CPU_BACKEND,
    settings: Settings | None = None,
    start_mode: str = "hardware",
) -> EdgeApp:
    """Return an EdgeApp on injected hardware and llama.cpp facts (default: the Raspberry Pi 5)."""
    state = AppState(hardware or device("rpi5-8gb"), settings or Settings(), backend=backend)
    return EdgeApp(state, start_mode=start_mode)


@pytest.fixture(autouse=True)
def private_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the Hugging Face cache at `tmp_path` and go offline (tests/conftest.py moves edgeapp's dirs).

    huggingface_hub reads HF_HUB_CACHE once, at import, so its constant is patched too; an empty
    cache keeps the picker's "downloaded" marks and the downloads screen's list fixed.
    """
    from huggingface_hub import constants

    cache = tmp_path / "hf-hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    # No test talks to the real hub: offline unless a test starts the fake one (hub_env turns it off).
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    # Quants other tests derived from the bundled model would turn estimates exact: none here.
    monkeypatch.setenv("EDGEAPP_DERIVED_DIR", str(tmp_path / "derived"))
    return cache


def estimate_for(monkeypatch: pytest.MonkeyPatch, hw: HardwareInfo) -> HardwareInfo:
    """Make the estimator use `hw`'s CPU features (it reads this machine's to predict repacked weights).

    Without this, figures on screen would depend on the CPU that runs the tests, not the injected one.
    """
    from edgeapp import memory_calibration

    monkeypatch.setattr(memory_calibration, "cpu_features", lambda: hw.cpu.features)
    return hw


async def settle(pilot: Any) -> None:
    """Let the app finish its background work (workers start after the first frame) and redraw."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()
