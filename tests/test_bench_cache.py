"""The per-machine measurement cache and measured picks built on it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from edgeapp.bench.cache import Measurement, MeasurementCache, file_identity, machine_key
from edgeapp.bench.measured_pick import TYPICAL_KLD, measured_pick
from edgeapp.hardware import CpuInfo, GpuInfo, HardwareInfo, RamInfo

HW = HardwareInfo(
    ram=RamInfo(8 << 30, 6 << 30),
    cpu=CpuInfo("Cortex-A76", "aarch64", 4, 4, ("neon",)),
    gpus=(),
    gpu_reason="none",
    board="Raspberry Pi 5 Model B Rev 1.0",
    unified_memory=False,
    gpu_offload_supported=False,
)


def test_machine_key_tracks_hardware_and_build() -> None:
    key = machine_key(HW, build="llama.cpp abc")
    assert key == machine_key(HW, build="llama.cpp abc")
    assert key.id != machine_key(HW, build="llama.cpp def").id
    with_gpu = replace(HW, gpus=(GpuInfo(0, "NVIDIA RTX 4090", 24 << 30, 20 << 30, "550", "8.9"),))
    assert key.id != machine_key(with_gpu, build="llama.cpp abc").id
    # Free memory changes all the time and must not make a new machine.
    assert key.id == machine_key(replace(HW, ram=RamInfo(8 << 30, 1 << 30)), build="llama.cpp abc").id


def test_file_identity_is_hashed_once_and_follows_changes(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(1000))
    first = file_identity(model)
    assert first.size_bytes == 1004 and len(first.sha256) == 64
    renamed = tmp_path / "renamed.gguf"
    model.rename(renamed)
    assert file_identity(renamed).sha256 == first.sha256
    renamed.write_bytes(b"GGUF" + bytes(999) + b"x")
    os.utime(renamed, ns=(1, 1))
    assert file_identity(renamed).sha256 != first.sha256


def _measurement(
    kind: str, quant: str, values: dict, sha: str | None = None, **conditions: object
) -> Measurement:
    from edgeapp.bench.cache import FileIdentity

    file = FileIdentity(sha or f"sha-{quant}", 1000, f"m.{quant}.gguf")
    return Measurement(kind, file, "default", quant, dict(conditions), values)  # type: ignore[arg-type]


def test_cache_replaces_same_subject_and_writes_atomically() -> None:
    cache = MeasurementCache(machine_key(HW, build="b"))
    cache.record(_measurement("bench", "Q2_K", {"gen_tps": 10.0}, n_ctx=2048))
    cache.record(_measurement("bench", "Q2_K", {"gen_tps": 12.0}, n_ctx=2048))
    cache.record(_measurement("bench", "Q2_K", {"gen_tps": 9.0}, n_ctx=4096))
    found = cache.lookup("bench", sha256="sha-Q2_K")
    assert sorted(m.values["gen_tps"] for m in found) == [9.0, 12.0]
    assert cache.lookup("bench", model="default", quant="q2_k") and not cache.lookup("quality")
    data = json.loads(cache.path.read_text())
    assert data["format"] == 1 and data["machine"]["board"] == HW.board
    assert [p.name for p in cache.path.parent.iterdir() if p.name.startswith(".")] == []
    cache.path.write_text("{ torn")
    assert cache.load() == []  # a damaged file is ignored, and the next record rewrites it
    cache.record(_measurement("bench", "Q8_0", {"gen_tps": 5.0}))
    assert len(cache.load()) == 1


def _ladder_cache(kld: dict[str, float], tps: dict[str, float], build: str = "b") -> MeasurementCache:
    cache = MeasurementCache(machine_key(HW, build=build))
    for quant, value in kld.items():
        cache.record(_measurement("quality", quant, {"kld_mean": value}))
    for quant, value in tps.items():
        cache.record(_measurement("bench", quant, {"gen_tps": value}))
    return cache


def test_measured_pick_from_measurements() -> None:
    cache = _ladder_cache(
        {"Q2_K": 0.46, "Q4_K_M": 0.05, "Q8_0": 0.004},
        {"Q2_K": 60.0, "Q4_K_M": 45.0, "Q8_0": 30.0},
    )
    pick = measured_pick("default", ["Q2_K", "Q4_K_M", "Q8_0"], max_kld=0.1, min_tps=40, hw=HW, cache=cache)
    assert pick.quant == "Q4_K_M" and pick.basis == "measured"
    assert "Q2_K" in pick.reason and "0.46" in pick.reason
    strict = measured_pick(
        "default", ["Q2_K", "Q4_K_M", "Q8_0"], max_kld=0.01, min_tps=40, hw=HW, cache=cache
    )
    assert strict.quant is None and "no quant meets" in strict.reason


def test_measured_pick_estimates_the_rest_and_says_so() -> None:
    cache = _ladder_cache({"Q8_0": 0.004}, {"Q8_0": 30.0})
    pick = measured_pick("default", ["Q4_K_M", "Q6_K", "Q8_0"], max_kld=0.05, min_tps=1, hw=HW, cache=cache)
    rows = {row.quant: row for row in pick.rows}
    # Q8_0 measured 4x the typical KLD, so the estimates are scaled by 4.
    assert rows["Q4_K_M"].kld_basis == "estimated"
    assert rows["Q4_K_M"].kld_mean == pytest.approx(TYPICAL_KLD["Q4_K_M"] * 4)
    assert rows["Q4_K_M"].tps_basis == "estimated" and rows["Q4_K_M"].gen_tps > 30.0
    assert pick.quant == "Q6_K" and pick.basis == "estimated"
    # A machine with no measurement at all cannot estimate speed: it says so instead of guessing.
    fresh = _ladder_cache({}, {}, build="another llama.cpp")
    unknown = measured_pick("default", ["Q4_K_M"], max_kld=None, min_tps=5, hw=HW, cache=fresh)
    assert unknown.quant is None and "speed unknown" in unknown.reason
