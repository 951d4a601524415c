"""Memory estimates and picks: exact parts from real headers, verdicts on real device fixtures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edgeapp.estimate import estimate_memory, kv_cache_bytes, shape_from_header
from edgeapp.gguf_file import read_header
from edgeapp.hardware import GpuInfo, probe_hardware
from edgeapp.memory_calibration import is_repacked
from edgeapp.pick import Headroom, pick_quant
from edgeapp.refs import resolve

DEVICES = Path(__file__).parent / "fixtures" / "devices"
AVX2 = ("avx", "avx2", "fma", "f16c")


def test_kv_cache_matches_the_reference_formula(bundled_path: Path) -> None:
    shape = shape_from_header(read_header(bundled_path), AVX2)
    # facts.md: 2048 × 30 × 3 × 64 × 2 × 2 = 47,185,920 bytes
    assert kv_cache_bytes(shape, 2048) == 47_185_920
    assert kv_cache_bytes(shape, 2000) == 47_185_920  # padded to 256 like llama.cpp


def test_weights_are_the_exact_tensor_bytes_of_the_header(derive) -> None:
    header = read_header(derive("Q8_0"))
    estimate = estimate_memory(resolve("default:Q8_0"), 2048, 0, gpu=False)
    assert estimate.exact and estimate.source in ("header", "dry-run")
    assert estimate.weights_bytes == header.weights_bytes() == 143_025_408


def test_repack_prediction_matches_what_llama_cpp_reported(derive) -> None:
    # Loading these files here, llama.cpp logged CPU_REPACK buffers of 42.71 and 7.59 MiB (AVX2).
    for quant, mib in (("Q2_K", 42.71), ("Q4_K_M", 7.59), ("Q8_0", 0.0)):
        shape = shape_from_header(read_header(derive(quant)), AVX2)
        assert sum(shape.repackable_layer_bytes) / 2**20 == pytest.approx(mib, abs=0.01)
    assert is_repacked("Q4_0", (576, 1536), ("neon", "dotprod"))
    assert not is_repacked("Q4_0", (576, 1536), ())


def test_catalog_estimate_is_marked_approximate_and_scales_with_context() -> None:
    model = resolve("llama-2-7b:Q4_K_M")
    small = estimate_memory(model, 512, 0, gpu=False)
    large = estimate_memory(model, 4096, 0, gpu=False)
    assert not small.exact and small.source == "catalog"
    assert large.kv_cache_bytes == 8 * small.kv_cache_bytes
    assert 3.5e9 < small.weights_bytes < 4.5e9  # 6.74B params at ~4.85 bits


def test_offload_moves_layers_and_their_kv_to_vram() -> None:
    model = resolve("llama-2-7b:Q4_K_M")
    half = estimate_memory(model, 2048, 16, gpu=True)
    full = estimate_memory(model, 2048, -1, gpu=True)
    assert half.kv_vram_bytes == half.kv_cache_bytes // 2
    assert full.kv_vram_bytes == full.kv_cache_bytes
    assert full.weights_vram_bytes > half.weights_vram_bytes > 0
    assert full.ram_bytes < half.ram_bytes
    assert full.gpu_layers == 33  # 32 blocks + the output layer


def test_estimate_is_close_to_the_measured_peak_rss(derive) -> None:
    from edgeapp.engine.protocol import SamplingSettings
    from edgeapp.runs import RunSettings, run_prompt

    model = resolve("default:Q4_K_M")
    model = replace(model, path=derive("Q4_K_M"))
    settings = RunSettings(
        n_ctx=512, max_tokens=16, ignore_eos=True, sampling=SamplingSettings(temperature=0)
    )
    result = run_prompt(model, settings, prompt="Tell me about the sea. " * 10)
    estimate = estimate_memory(model, 512, 0, gpu=False)
    # docs/benchmarks.md has the full table (within 2% here); a looser bound keeps this robust
    assert estimate.ram_bytes == pytest.approx(result.peak_rss_bytes, rel=0.10), estimate.to_json()


def _hw(device: str):
    return probe_hardware(DEVICES / device, gpu_offload_supported=False)


def test_four_gb_pi_gets_a_small_models_q4_k_m_and_not_a_7b() -> None:
    hw = _hw("rpi4-4gb")
    llama = pick_quant("llama-2-7b", hw, 2048)
    assert llama.quant is None and {c.verdict for c in llama.candidates} == {"too_large"}
    assert "nothing fits" in llama.reason
    qwen = pick_quant("qwen2.5-1.5b-instruct", hw, 2048)
    assert qwen.quant == "Q4_K_M"
    assert all(c.verdict == "cpu" for c in qwen.candidates if c.quant != "F16")
    assert "small board" in qwen.reason


def test_pi5_fits_a_7b_at_q4_k_m_but_not_q8_0() -> None:
    pick = pick_quant("mistral-7b-instruct-v0.2", _hw("rpi5-8gb"), 2048)
    verdicts = {c.quant: c.verdict for c in pick.candidates}
    assert pick.quant == "Q4_K_M"
    assert verdicts["Q8_0"] == "too_large" and verdicts["Q2_K"] == "cpu"


def test_laptop_without_gpu_picks_q8_0_over_f16() -> None:
    pick = pick_quant("qwen2.5-1.5b-instruct", _hw("x86-laptop-i7-1165g7"), 2048)
    assert pick.quant == "Q8_0" and pick.gpu_layers == 0
    assert "F16" in pick.reason


def test_gpu_machine_offloads_fully_or_partially_by_vram() -> None:
    base = _hw("x86-laptop-i7-1165g7")

    def with_gpu(free_gib: float):
        gpu = GpuInfo(0, "NVIDIA GeForce RTX 4060", 8 << 30, int(free_gib * (1 << 30)), "550.54", "8.9")
        return replace(base, gpus=(gpu,), gpu_offload_supported=True)

    roomy = pick_quant("llama-2-7b", with_gpu(7.5), 2048)
    assert {c.quant: c.verdict for c in roomy.candidates}["Q2_K"] == "gpu"
    verdicts = [c.verdict for c in roomy.candidates]
    chosen = [c.quant for c in roomy.candidates].index(roomy.quant)
    # the most precise quant that runs fully on the GPU: the next one up does not
    assert verdicts[chosen] == "gpu" and verdicts[chosen + 1] != "gpu"
    assert roomy.gpu_layers == 33
    tight = pick_quant("llama-2-7b", with_gpu(3.0), 2048)
    partial = [c for c in tight.candidates if c.verdict == "partial"]
    assert partial and all(0 < c.gpu_layers < 32 for c in partial)
    assert "of 32 layers" in tight.reason


def test_headroom_setting_changes_the_verdict() -> None:
    hw = _hw("rpi4-4gb")
    generous = pick_quant("qwen2.5-1.5b-instruct", hw, 2048, Headroom(min_free_ram_bytes=3 << 30))
    assert all(c.verdict == "too_large" for c in generous.candidates)
