"""Sample a process's memory, VRAM and CPU from the outside (parent side), keeping the peaks.

psutil reads /proc for RSS and CPU; NVML gives per-process VRAM when there is an NVIDIA driver.
A background thread samples every `interval_s`; the engine itself also reports its exact RSS
high-water mark (getrusage), which catches peaks shorter than the sampling interval.

VRAM is read at most every VRAM_INTERVAL_S by the thread (and on every explicit `sample()`):
an NVML process query takes the driver's locks, and GPU memory is allocated at load and at the
first generation, so a slower reading misses no peak that a final `sample()` does not catch.
(On an H100 a first probe suggested 20 queries a second cost decode 4.7 %; a second run of
benchmarks/gpu_decode_probe.py found no difference: docs/benchmarks.md.)
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceSample:
    t: float
    rss_bytes: int
    vram_bytes: int | None
    cpu_percent: float


class ResourceMonitor:
    """Track current and peak RSS/VRAM and CPU % of process `pid` in a daemon thread."""

    IDLE_INTERVAL_S = 1.0  # between requests nothing changes fast; don't spend the parent's CPU
    VRAM_INTERVAL_S = 0.5

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        import psutil

        self.pid = pid
        self.interval_s = interval_s
        self.active = True  # the client lowers this between requests
        self._process = psutil.Process(pid)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._vram = self._open_vram_reader()
        self._vram_read_at: float | None = None
        self.latest: ResourceSample | None = None
        self.peak_rss_bytes = 0
        self.peak_vram_bytes: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"monitor-{pid}", daemon=True)
        self._process.cpu_percent(None)  # prime: the first reading is always 0
        self._thread.start()

    @staticmethod
    def _open_vram_reader():  # type: ignore[no-untyped-def]
        try:
            from edgeapp.nvml import ProcessVramReader

            reader = ProcessVramReader()
            reader.__enter__()
            return reader
        except Exception:  # no NVML, no driver, no GPU: VRAM stays None
            return None

    def sample(self, *, vram: bool = True) -> ResourceSample | None:
        """Take one sample now (also used by the thread); None once the process is gone.

        With `vram` False the previous VRAM reading is carried over instead of asking NVML.
        """
        import psutil

        try:
            rss = self._process.memory_info().rss
            cpu = self._process.cpu_percent(None)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None
        now = time.perf_counter()
        vram_bytes = self.latest.vram_bytes if self.latest is not None else None
        if self._vram is not None and (vram or self._vram_read_at is None):
            self._vram_read_at = now
            try:
                vram_bytes = self._vram.used_bytes(self.pid)
            except Exception:
                vram_bytes = None
        sample = ResourceSample(now, rss, vram_bytes, cpu)
        with self._lock:
            self.latest = sample
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            if vram_bytes is not None:
                self.peak_vram_bytes = max(self.peak_vram_bytes or 0, vram_bytes)
        return sample

    def reset_peaks(self) -> None:
        """Start measuring peaks afresh (e.g. per benchmark repetition)."""
        with self._lock:
            self.peak_rss_bytes = self.latest.rss_bytes if self.latest else 0
            self.peak_vram_bytes = self.latest.vram_bytes if self.latest else None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s if self.active else self.IDLE_INTERVAL_S):
            due = self._vram_read_at is None or time.perf_counter() - self._vram_read_at >= self.VRAM_INTERVAL_S
            if self.sample(vram=due) is None:
                return

    def stop(self) -> None:
        """Stop sampling and release NVML."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        if self._vram is not None:
            with contextlib.suppress(Exception):
                self._vram.__exit__(None, None, None)
            self._vram = None
