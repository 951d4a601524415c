"""Cost per inference and EQ reproduce seed 000's numbers, through the benchmark's own runs."""

from __future__ import annotations

import pytest

from edgeapp.bench.runner import BenchRun, Repetition
from edgeapp.cost import efficiency_quotient, inference_cost_usd
from edgeapp.refs import ResolvedModel

# Seed 000, Table 1 and Table 2, m5.4xlarge at $0.768/hour.
M5_4XLARGE_PRICE = 0.768
QUANTIZED_S, QUANTIZED_COST, QUANTIZED_EQ = 53.05496502, 0.01131839254, 1.665287475
FOUNDATION_S, FOUNDATION_COST, FOUNDATION_EQ = 81.2025249, 0.01732320531, 0.7108896873


def _run(total_s: float, price: float = M5_4XLARGE_PRICE) -> BenchRun:
    rep = Repetition(
        load_s=1.0, ttft_s=0.5, prompt_tokens=150, prompt_tps=300.0, gen_tokens=512, gen_tps=10.0,
        total_s=total_s, peak_rss_bytes=1, peak_vram_bytes=None, gpu_layers=0, threads=16, n_ctx=2048,
    )  # fmt: skip
    model = ResolvedModel("llama-2-7b:Q2_K", "catalog", "llama-2-7b", "Llama 2 7B", "Q2_K", None)
    return BenchRun(model=model, quant="Q2_K", size_bytes=2_830_000_000, price_per_hour=price, reps=(rep,))


def test_seed_000_quantized_m5_4xlarge_row() -> None:
    assert inference_cost_usd(M5_4XLARGE_PRICE, QUANTIZED_S) == pytest.approx(QUANTIZED_COST, abs=1e-11)
    assert efficiency_quotient(M5_4XLARGE_PRICE, QUANTIZED_S) == pytest.approx(QUANTIZED_EQ, rel=1e-8)
    assert round(inference_cost_usd(M5_4XLARGE_PRICE, QUANTIZED_S), 7) == 0.0113184
    assert round(efficiency_quotient(M5_4XLARGE_PRICE, QUANTIZED_S) or 0, 6) == 1.665287


def test_seed_000_foundation_m5_4xlarge_row() -> None:
    assert inference_cost_usd(M5_4XLARGE_PRICE, FOUNDATION_S) == pytest.approx(FOUNDATION_COST, abs=1e-11)
    assert efficiency_quotient(M5_4XLARGE_PRICE, FOUNDATION_S) == pytest.approx(FOUNDATION_EQ, rel=1e-8)


def test_bench_run_reports_seed_cost_and_eq() -> None:
    data = _run(QUANTIZED_S).to_json()
    assert data["total_s"] == QUANTIZED_S
    assert data["cost_usd"] == pytest.approx(QUANTIZED_COST, abs=1e-11)
    assert data["eq"] == pytest.approx(QUANTIZED_EQ, rel=1e-8)
    assert data["price_per_hour"] == M5_4XLARGE_PRICE


def test_bench_run_uses_the_mean_time_of_its_repetitions() -> None:
    base = _run(QUANTIZED_S)
    slower = Repetition(**{**base.reps[0].__dict__, "total_s": QUANTIZED_S + 2.0, "gen_tps": 14.0})
    run = BenchRun(base.model, base.quant, base.size_bytes, M5_4XLARGE_PRICE, (base.reps[0], slower))
    assert run.total_s == pytest.approx(QUANTIZED_S + 1.0)
    assert run.cost_usd == pytest.approx(M5_4XLARGE_PRICE * (QUANTIZED_S + 1.0) / 3600)
    assert run.gen_tps == pytest.approx(12.0)
    assert run.gen_tps_sd == pytest.approx(2.8284271, rel=1e-6)  # sample standard deviation of 10 and 14


def test_free_machine_has_no_eq() -> None:
    assert _run(QUANTIZED_S, price=0.0).to_json()["eq"] is None
    assert efficiency_quotient(0.768, 0.0) is None
