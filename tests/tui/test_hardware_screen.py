"""The hardware screen: snapshots on injected devices (a Pi 5, an x86 laptop with and without an
NVIDIA GPU, a Jetson), and the recommendation following the selected model."""

from __future__ import annotations

import pytest

from edgeapp.tui.state import AppState
from tests.tui.shell_support import (
    CPU_BACKEND,
    CUDA_BACKEND,
    JETSON_BACKEND,
    LAPTOP_CPU_BACKEND,
    SIZE,
    device,
    estimate_for,
    laptop_with_nvidia,
    make_app,
    private_hf_cache,  # noqa: F401 - autouse fixture
    settle,
    wait_until,
)


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


DEVICES = {
    "rpi5": (lambda: device("rpi5-8gb"), CPU_BACKEND),
    "laptop_cpu": (lambda: device("x86-laptop-i7-1165g7"), LAPTOP_CPU_BACKEND),
    "laptop_nvidia": (laptop_with_nvidia, CUDA_BACKEND),
    "jetson": (lambda: device("jetson-orin-nano", offload=True), JETSON_BACKEND),
}


@pytest.mark.parametrize("name", DEVICES)
def test_snapshot(snap_compare, monkeypatch, name):
    hardware, backend = DEVICES[name]
    hw = estimate_for(monkeypatch, hardware())
    assert snap_compare(make_app(hw, backend=backend), terminal_size=SIZE, run_before=settle)


async def test_gpu_panel_says_why_there_is_no_gpu_or_shows_vram(monkeypatch):
    app = make_app(device("rpi5-8gb"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "no NVIDIA GPU: NVML library not found" in _text(app, "#hw-gpu-reason")
    app = make_app(laptop_with_nvidia(), backend=CUDA_BACKEND)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "RTX 4060" in _text(app, ".hw-gpu-name")
        assert "724 MiB used · 7.29 GiB available of 8 GiB" in _text(app, "#hw-vram-0")
        assert "GPU offload supported" in _text(app, "#hw-llama-text")
    app = make_app(device("jetson-orin-nano", offload=True), backend=CUDA_BACKEND)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Unified memory" in _text(app, "#hw-gpu-reason")


async def test_selecting_a_model_updates_header_and_recommendation(monkeypatch):
    hw = estimate_for(monkeypatch, device("rpi5-8gb"))
    app = make_app(hw)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = _text(app, "#hw-pick")
        assert before.startswith("default: Q4_K_M runs on the CPU")
        await pilot.press("m")
        await settle(pilot)
        table = app.screen.query_one("#models-table")
        table.move_cursor(
            row=table.get_row_index("qwen2.5-1.5b-instruct"), column=table.get_column_index("Q5_K_M")
        )
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.selected_ref == "qwen2.5-1.5b-instruct:Q5_K_M"
        await pilot.press("h")
        await wait_until(pilot, lambda: "working out" not in _text(app, "#hw-pick"), "the recommendation")
        assert "qwen2.5-1.5b-instruct:Q5_K_M" in _text(app, "#header-model")
        after = _text(app, "#hw-pick")
        assert after.startswith("qwen2.5-1.5b-instruct:Q5_K_M: Q5_K_M runs on the CPU"), after


async def test_recommendation_follows_llama_cpp_offload_support(monkeypatch):
    """The app starts with offload unknown (off); the probe's answer changes the verdict to the GPU."""
    hw = estimate_for(monkeypatch, laptop_with_nvidia())
    from dataclasses import replace

    from edgeapp.settings import Settings
    from edgeapp.tui.app import EdgeApp

    state = AppState(replace(hw, gpu_offload_supported=False), Settings(), backend=CPU_BACKEND)
    app = EdgeApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "runs on the CPU" in _text(app, "#hw-pick")
        state.set_backend(CUDA_BACKEND)
        await pilot.pause()
        await wait_until(
            pilot, lambda: "fits entirely on the NVIDIA" in _text(app, "#hw-pick"), "a GPU verdict"
        )
        assert "GPU offload supported" in _text(app, "#hw-llama-text")
