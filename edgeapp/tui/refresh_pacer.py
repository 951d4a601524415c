"""How often the UI may redraw a streaming reply without slowing the engine down.

Every redraw costs the UI thread CPU time (Markdown, layout, compositing), and on a small machine
the engine's threads need every core: a UI that redraws 30 times a second there takes several
percent of the machine and the engine loses that much speed. The pacer measures what the UI thread
actually spent between two redraws and stretches the interval so that the UI stays within a budget
(2 % of the machine's CPU time by default): 30 redraws a second on a fast machine, down to one a
second on a small, slow one where every redraw costs tens of milliseconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

MIN_INTERVAL_S = 1 / 30
MAX_INTERVAL_S = 1.0
UI_CPU_BUDGET = 0.02  # the share of the machine's CPU time the UI may use while a reply streams


class RefreshPacer:
    """Return the next redraw interval from the UI thread's CPU time since the previous redraw."""

    def __init__(
        self,
        budget: float = UI_CPU_BUDGET,
        cpus: int | None = None,
        clock: Callable[[], float] = time.thread_time,
        min_interval_s: float = MIN_INTERVAL_S,
        max_interval_s: float = MAX_INTERVAL_S,
    ) -> None:
        self.budget_cpu_per_s = budget * (cpus or os.cpu_count() or 1)
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.interval_s = min_interval_s
        self._last_cpu = clock()

    def start(self) -> float:
        """Begin pacing a new stream; return the first interval."""
        self._last_cpu = self.clock()
        return self.interval_s

    def next_interval(self) -> float:
        """Call at each redraw (on the UI thread); return the delay before the next one."""
        now = self.clock()
        spent, self._last_cpu = now - self._last_cpu, now
        wanted = spent / self.budget_cpu_per_s  # the interval at which this cost fits the budget
        # Smoothed, so one slow frame (a long code block, a resize) does not stall the stream.
        self.interval_s = min(
            max(0.6 * self.interval_s + 0.4 * wanted, self.min_interval_s), self.max_interval_s
        )
        return self.interval_s
