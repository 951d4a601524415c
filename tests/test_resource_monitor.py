"""The parent-side resource monitor: RSS every tick, VRAM through NVML only twice a second."""

from __future__ import annotations

import os
import time

from edgeapp.engine.monitor import ResourceMonitor


class CountingVramReader:
    """Stands in for NVML (there is no GPU here): counts the per-process queries."""

    def __init__(self) -> None:
        self.calls = 0

    def used_bytes(self, pid: int) -> int:
        self.calls += 1
        return 100 * 2**20 + self.calls

    def __exit__(self, *exc: object) -> None:
        pass


def test_thread_reads_vram_at_most_every_vram_interval_and_explicit_samples_always_do() -> None:
    reader = CountingVramReader()
    monitor = ResourceMonitor(os.getpid(), interval_s=0.01)
    monitor._vram = reader
    try:
        time.sleep(0.6)  # ~60 ticks of the thread
        ticks_reads = reader.calls
        assert 1 <= ticks_reads <= 3, ticks_reads  # 0.6 s / VRAM_INTERVAL_S 0.5 s, plus the first
        latest = monitor.latest
        assert latest is not None and latest.vram_bytes is not None  # carried between reads
        sample = monitor.sample()
        assert sample is not None and reader.calls == ticks_reads + 1
        assert monitor.peak_vram_bytes == sample.vram_bytes
    finally:
        monitor.stop()


def test_no_nvml_means_no_vram_and_no_error() -> None:
    monitor = ResourceMonitor(os.getpid(), interval_s=0.01)
    monitor._vram = None
    try:
        sample = monitor.sample()
        assert sample is not None and sample.vram_bytes is None and sample.rss_bytes > 0
    finally:
        monitor.stop()


class FixedMonitor:
    def __init__(self, vram_bytes: int | None) -> None:
        self.vram_bytes = vram_bytes

    def sample(self):  # type: ignore[no-untyped-def]
        from edgeapp.engine.monitor import ResourceSample

        return ResourceSample(0.0, 300 * 2**20, self.vram_bytes, 0.0)


def _loaded(gpu_layers: int, device_buffer_bytes: int):  # type: ignore[no-untyped-def]
    from edgeapp.engine.protocol import Loaded

    return Loaded(
        path="m.gguf", load_s=0.1, n_layers=30, gpu_layers=gpu_layers, n_ctx=2048, n_ctx_train=8192,
        n_params=1, model_bytes=1, threads=2, description="", has_chat_template=True,
        max_rss_bytes=1, device_buffer_bytes=device_buffer_bytes,
    )  # fmt: skip


def test_a_gpu_generation_records_the_vram_beyond_llama_cpp_buffers() -> None:
    from edgeapp import memory_calibration
    from edgeapp.engine.client import EngineClient

    client = EngineClient()
    client.monitor = FixedMonitor(976 * 2**20)  # type: ignore[assignment]
    client.loaded = _loaded(gpu_layers=30, device_buffer_bytes=284 * 2**20)
    client._calibrate_gpu_context()
    assert memory_calibration.gpu_context_bytes() == 692 * 2**20


def test_cpu_loads_and_missing_readings_record_nothing() -> None:
    from edgeapp import memory_calibration
    from edgeapp.engine.client import EngineClient

    client = EngineClient()
    for monitor, loaded in (
        (FixedMonitor(976 * 2**20), _loaded(gpu_layers=0, device_buffer_bytes=0)),
        (FixedMonitor(None), _loaded(gpu_layers=30, device_buffer_bytes=284 * 2**20)),
        (FixedMonitor(100 * 2**20), _loaded(gpu_layers=30, device_buffer_bytes=284 * 2**20)),
    ):
        client.monitor, client.loaded = monitor, loaded  # type: ignore[assignment]
        client._calibrate_gpu_context()
    assert memory_calibration.gpu_context_bytes() == memory_calibration.DEFAULT_GPU_CONTEXT_BYTES
