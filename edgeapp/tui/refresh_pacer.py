"""How often the UI may redraw a streaming reply without slowing the engine down.

Every redraw costs the UI thread CPU time (text, compositing), and on a small machine the engine's
threads need every core: a UI that redraws 30 times a second there takes several percent of the
machine and the engine loses that much speed, or more (its threads wait for each other). The
pacer measures what the UI thread spends per redraw and stretches the interval so that redrawing
stays within a budget (2 % of the machine's CPU time by default): 30 redraws a second on a fast
machine, fewer on a small, slow one, down to one a second.

What it budgets is the cost of one more redraw: the cheapest of the recent redraws that followed
a short interval (at a slow pace, every PROBE_EVERY redraws two come in quick succession to measure
one). The rest of the UI's work (laying out a new paragraph, rendering it as Markdown) grows with
the text, not with the number of redraws; counting it per redraw would stretch the interval, put
more text into each redraw, make each dearer and stretch the interval again, down to one redraw a
second.

Redraws that cost CHEAP_REDRAW_S or less happen at least FLOOR_HZ times a second even when that
exceeds the budget: a reply that moves in jumps of a quarter second looks broken, and a couple of
milliseconds twenty times a second is what a terminal UI costs at the least.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable

MIN_INTERVAL_S = 1 / 30
MAX_INTERVAL_S = 1.0
UI_CPU_BUDGET = 0.02  # the share of the machine's CPU time the UI may use while a reply streams
FLOOR_HZ = 20
CHEAP_REDRAW_S = 0.003  # UI CPU per redraw at or below which FLOOR_HZ holds whatever the budget
RECENT_REDRAWS = 4  # the cost of a redraw is the cheapest of this many recent measured ones
PROBE_EVERY = 6  # at a slow pace, two of every 6 intervals are short, to measure a redraw's own cost
WARMUP_REDRAWS = 2  # the first redraws of a stream also mount the reply: not counted


class RefreshPacer:
    """Return the next redraw interval from the UI thread's CPU time per redraw."""

    def __init__(
        self,
        budget: float = UI_CPU_BUDGET,
        cpus: int | None = None,
        clock: Callable[[], float] = time.thread_time,
        min_interval_s: float = MIN_INTERVAL_S,
        max_interval_s: float = MAX_INTERVAL_S,
        floor_hz: float = FLOOR_HZ,
        cheap_redraw_s: float = CHEAP_REDRAW_S,
    ) -> None:
        self.budget_cpu_per_s = budget * (cpus or os.cpu_count() or 1)
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.floor_interval_s = 1 / floor_hz
        self.cheap_redraw_s = cheap_redraw_s
        self.interval_s = min_interval_s
        self._recent: deque[float] = deque(maxlen=RECENT_REDRAWS)  # costs of redraws of little text
        # The CPU time measured at a redraw is the work done since the previous one: mostly drawing
        # the text that came during the delay before *that* one. So a cost is one redraw's own when
        # the last two delays were short.
        self._delays: deque[float] = deque([min_interval_s, min_interval_s], maxlen=2)
        self._redraws = 0
        self._last_cpu = clock()

    @property
    def redraw_cpu_s(self) -> float | None:
        """Return the UI CPU time one redraw costs (the cheapest recent one); None before any."""
        return min(self._recent) if self._recent else None

    def start(self) -> float:
        """Begin pacing a new stream; return the first interval.

        Each stream is measured afresh: quick redraws at first, until one has been measured.
        """
        self._last_cpu = self.clock()
        self._recent.clear()
        self._redraws = 0
        self.interval_s = self.min_interval_s
        self._delays.extend((self.min_interval_s, self.min_interval_s))
        return self.interval_s

    def next_interval(self) -> float:
        """Call at each redraw (on the UI thread); return the delay before the next one."""
        now = self.clock()
        spent, self._last_cpu = now - self._last_cpu, now
        self._redraws += 1
        if self._redraws > WARMUP_REDRAWS and max(self._delays) <= self.floor_interval_s:
            self._recent.append(spent)
        if self._recent:
            cost = min(self._recent)
            wanted = cost / self.budget_cpu_per_s  # the interval at which redrawing fits the budget
            if cost <= self.cheap_redraw_s:
                wanted = min(wanted, self.floor_interval_s)
            self.interval_s = min(max(wanted, self.min_interval_s), self.max_interval_s)
        probing = self.interval_s > self.floor_interval_s and self._redraws % PROBE_EVERY in (0, 1)
        self._delays.append(self.min_interval_s if probing else self.interval_s)
        return self._delays[-1]
