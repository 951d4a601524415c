"""The pieces that keep streaming cheap: the live reply buffer, the refresh pacer, the load plan."""

from __future__ import annotations

import threading

import pytest

from edgeapp.tui.live_reply import RATE_WINDOW_S, LiveReply
from edgeapp.tui.refresh_pacer import MAX_INTERVAL_S, MIN_INTERVAL_S, RefreshPacer


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


def test_pacer_redraws_often_when_redrawing_is_cheap_and_rarely_when_it_is_not():
    clock = FakeClock()
    pacer = RefreshPacer(budget=0.02, cpus=16, clock=clock)  # 0.32 CPU-s per second to spend
    pacer.start()
    for _ in range(20):
        clock.now += 0.002  # 2 ms per redraw: a fast machine
        interval = pacer.next_interval()
    assert interval == MIN_INTERVAL_S

    clock = FakeClock()
    pacer = RefreshPacer(budget=0.02, cpus=2, clock=clock)  # 0.04 CPU-s per second
    pacer.start()
    for _ in range(30):
        clock.now += 0.012  # 12 ms per redraw on a small machine
        interval = pacer.next_interval()
    assert interval == pytest.approx(0.012 / 0.04, rel=0.01)  # 3.3 redraws a second fit the budget
    for _ in range(30):
        clock.now += 0.2  # a redraw that costs more than the whole budget
        interval = pacer.next_interval()
    assert interval == MAX_INTERVAL_S
