"""Progress reports for a download: bytes, speed over the last few seconds, and time left."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Speed is measured over a sliding window so a stall shows up within seconds, not averaged away.
_WINDOW_S = 5.0


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report. `downloaded_bytes` counts what is on disk, resumed bytes included."""

    filename: str
    downloaded_bytes: int
    total_bytes: int
    resumed_from_bytes: int
    speed_bytes_per_s: float
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return self.downloaded_bytes / self.total_bytes if self.total_bytes else 1.0

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class ProgressMeter:
    """Counts bytes and calls `callback` at most every `interval_s` (and once at the end)."""

    def __init__(
        self,
        filename: str,
        total_bytes: int,
        resumed_from_bytes: int,
        callback: Callable[[DownloadProgress], None] | None,
        interval_s: float = 0.25,
    ) -> None:
        self.filename = filename
        self.total_bytes = total_bytes
        self.resumed_from_bytes = resumed_from_bytes
        self.downloaded_bytes = resumed_from_bytes
        self.callback = callback
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque([(self.started, resumed_from_bytes)])
        self._last_emit = 0.0

    def restart(self, downloaded_bytes: int) -> None:
        """The server ignored a Range request: what is on disk went back to `downloaded_bytes`."""
        self.downloaded_bytes = downloaded_bytes
        self._samples.clear()
        self._samples.append((time.monotonic(), downloaded_bytes))

    def add(self, n_bytes: int) -> None:
        self.downloaded_bytes += n_bytes
        now = time.monotonic()
        self._samples.append((now, self.downloaded_bytes))
        while len(self._samples) > 2 and now - self._samples[0][0] > _WINDOW_S:
            self._samples.popleft()
        if now - self._last_emit >= self.interval_s:
            self.emit()

    def speed_bytes_per_s(self) -> float:
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def snapshot(self) -> DownloadProgress:
        speed = self.speed_bytes_per_s()
        remaining = max(self.total_bytes - self.downloaded_bytes, 0)
        eta = remaining / speed if speed > 0 else (0.0 if remaining == 0 else None)
        return DownloadProgress(
            self.filename, self.downloaded_bytes, self.total_bytes, self.resumed_from_bytes, speed, eta
        )

    def emit(self) -> None:
        self._last_emit = time.monotonic()
        if self.callback is not None:
            self.callback(self.snapshot())
