"""The pieces that keep streaming cheap: the live reply buffer, the refresh pacer, the load plan."""

from __future__ import annotations

import threading

import pytest

from edgeapp.tui.live_reply import RATE_WINDOW_S, LiveReply
from edgeapp.tui.refresh_pacer import CHEAP_REDRAW_S, FLOOR_HZ, MAX_INTERVAL_S, MIN_INTERVAL_S, RefreshPacer


def test_live_reply_hands_out_each_text_once_with_figures():
    live = LiveReply()
    live.start()
    live.add("Hello", 1, 10.0)
    delta, figures = live.take()
    assert delta == "Hello" and figures.tokens == 1 and figures.gen_tps is None  # one batch: no rate yet
    assert figures.ttft_s is not None and figures.ttft_s >= 0
    live.add(" wor", 2, 10.1)
    live.add("ld", 2, 10.3)
    delta, figures = live.take()
    assert delta == " world" and figures.tokens == 5
    assert figures.gen_tps == pytest.approx(4 / 0.3)  # tokens after the first batch over their time
    assert figures.rates == (pytest.approx(4 / 0.3),)  # one window of >= RATE_WINDOW_S closed
    assert live.take()[0] == "" and live.text == "Hello world"
    live.start()
    assert live.text == "" and live.figures().tokens == 0


def test_live_reply_is_safe_to_fill_from_another_thread():
    live = LiveReply()
    live.start()

    def fill() -> None:
        for i in range(2000):
            live.add("x", 1, 1.0 + i * RATE_WINDOW_S / 10)

    writer = threading.Thread(target=fill)
    writer.start()
    taken = []
    while writer.is_alive():
        taken.append(live.take()[0])
    writer.join()
    taken.append(live.take()[0])
    assert "".join(taken) == "x" * 2000 and live.figures().tokens == 2000


class FakeClock:
    """CPU seconds the UI thread has spent, moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def redraw(pacer: RefreshPacer, clock: FakeClock, cost_s: float, times: int) -> list[float]:
    """Let `times` redraws of `cost_s` CPU seconds each happen; return the delays the pacer gave."""
    delays = []
    for _ in range(times):
        clock.now += cost_s
        delays.append(pacer.next_interval())
    return delays


def test_pacer_redraws_often_when_redrawing_is_cheap_and_rarely_when_it_is_not():
    clock = FakeClock()
    pacer = RefreshPacer(budget=0.02, cpus=16, clock=clock)  # 0.32 CPU-s per second to spend
    pacer.start()
    assert set(redraw(pacer, clock, 0.002, 20)) == {MIN_INTERVAL_S}  # 2 ms per redraw: a fast machine

    clock = FakeClock()
    pacer = RefreshPacer(budget=0.02, cpus=2, clock=clock)  # 0.04 CPU-s per second
    pacer.start()
    redraw(pacer, clock, 0.012, 30)  # 12 ms per redraw on a small machine
    assert pacer.interval_s == pytest.approx(0.012 / 0.04)  # 3.3 redraws a second fit the budget
    delays = redraw(pacer, clock, 0.2, 40)  # a redraw that costs more than the whole budget
    assert pacer.interval_s == MAX_INTERVAL_S
    # One redraw a second, but two of every six soon after the one before, to measure a redraw again.
    assert delays[-12:].count(MIN_INTERVAL_S) == 4 and delays[-12:].count(MAX_INTERVAL_S) == 8


def test_pacer_keeps_twenty_redraws_a_second_while_each_is_cheap_whatever_the_budget():
    clock = FakeClock()
    pacer = RefreshPacer(budget=0.02, cpus=1, clock=clock)  # 20 ms of CPU a second to spend
    pacer.start()
    # Cheap: the budget alone would allow about 8 redraws a second.
    delays = redraw(pacer, clock, CHEAP_REDRAW_S * 0.8, 30)
    assert delays[:2] == [MIN_INTERVAL_S] * 2  # quick ones until the first is measured
    assert set(delays[2:]) == {1 / FLOOR_HZ}
    redraw(pacer, clock, 0.004, 30)  # no longer cheap: back to the budget, 5 redraws a second
    assert pacer.interval_s == pytest.approx(0.004 / 0.02)


def test_pacer_budgets_the_cost_of_one_more_redraw_not_the_layout_work_the_text_brings():
    clock = FakeClock()
    pacer = RefreshPacer(budget=0.02, cpus=2, clock=clock)  # 40 ms of CPU a second to spend
    pacer.start()
    for index in range(40):
        # Every third redraw also lays out a new paragraph (50 ms): that happens however often
        # the screen is redrawn, so it must not slow the redraws down.
        redraw(pacer, clock, 0.05 if index % 3 == 2 else 0.004, 1)
    assert pacer.interval_s == pytest.approx(0.004 / 0.04)
    assert pacer.redraw_cpu_s == pytest.approx(0.004)
