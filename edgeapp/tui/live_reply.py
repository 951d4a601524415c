"""A reply in flight: token batches written by a worker thread, read by the UI at its own pace.

The engine sends a batch every ~16 ms. Posting a message and re-rendering Markdown per batch would
tie the UI's work to the engine's speed; instead the worker appends here (under a lock, a few
microseconds) and the UI takes what has accumulated on a timer, at a bounded rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

HISTORY_POINTS = 48  # sparkline points kept
RATE_WINDOW_S = 0.25  # a sparkline point covers at least this much generation time


@dataclass(frozen=True)
class LiveFigures:
    """What the stats panel shows while a reply streams (approximate until the engine's final stats)."""

    tokens: int = 0
    gen_tps: float | None = None  # tokens/s after the first batch
    rates: tuple[float, ...] = ()  # recent tokens/s, oldest first
    ttft_s: float | None = None  # parent-side: request sent → first batch received
    elapsed_s: float = 0.0


class LiveReply:
    """Thread-safe accumulator of one streaming reply's text and timing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset(time.perf_counter())

    def _reset(self, sent_at: float) -> None:
        self._sent_at = sent_at
        self._parts: list[str] = []
        self._pending: list[str] = []
        self._tokens = 0
        self._first_t: float | None = None
        self._first_batch_tokens = 0
        self._first_arrival: float | None = None
        self._last_t: float | None = None
        self._rates: deque[float] = deque(maxlen=HISTORY_POINTS)
        self._window_start_t: float | None = None
        self._window_tokens = 0

    def start(self) -> None:
        """Forget the previous reply; time the next one from now."""
        with self._lock:
            self._reset(time.perf_counter())

    def add(self, text: str, n_tokens: int, t: float) -> None:
        """Record a batch of `n_tokens` whose last token was produced at perf_counter time `t`."""
        with self._lock:
            self._parts.append(text)
            self._pending.append(text)
            self._tokens += n_tokens
            if self._first_t is None:
                self._first_t, self._first_batch_tokens = t, n_tokens
                self._first_arrival = time.perf_counter()
                self._window_start_t = t
            else:
                self._window_tokens += n_tokens
                span = t - (self._window_start_t or t)
                if span >= RATE_WINDOW_S:
                    self._rates.append(self._window_tokens / span)
                    self._window_start_t, self._window_tokens = t, 0
            self._last_t = t

    @property
    def text(self) -> str:
        """Return all the text received so far."""
        with self._lock:
            return "".join(self._parts)

    def take(self) -> tuple[str, LiveFigures]:
        """Return the text added since the last take and the current figures."""
        with self._lock:
            delta = "".join(self._pending)
            self._pending.clear()
            return delta, self._figures()

    def figures(self) -> LiveFigures:
        """Return the current figures without taking any text."""
        with self._lock:
            return self._figures()

    def _figures(self) -> LiveFigures:
        gen_tps = None
        if self._first_t is not None and self._last_t is not None and self._last_t > self._first_t:
            gen_tps = (self._tokens - self._first_batch_tokens) / (self._last_t - self._first_t)
        ttft = None if self._first_arrival is None else self._first_arrival - self._sent_at
        return LiveFigures(
            tokens=self._tokens,
            gen_tps=gen_tps,
            rates=tuple(self._rates),
            ttft_s=ttft,
            elapsed_s=time.perf_counter() - self._sent_at,
        )
