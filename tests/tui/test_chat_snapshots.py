"""Snapshots of the chat screen at 120x40, every volatile figure injected (no engine runs)."""

from __future__ import annotations

import pytest

from edgeapp.settings import Settings
from edgeapp.transcripts import ReplyStats
from edgeapp.tui.screens.chat import ChatScreen, reply_note
from edgeapp.tui.widgets.chat.message_log import MessageLog
from edgeapp.tui.widgets.stats.stats_view import StatsView
from tests.tui.shell_support import SIZE, make_app

REPLY = """Quantization stores each weight in **fewer bits**: 8, 4 or even 2 instead of 16.

- the file gets smaller, so it fits in less RAM;
- each token reads fewer bytes, so generation is faster;
- quality drops a little, more so below 4 bits.
"""

STATS = ReplyStats(
    gen_tokens=87,
    prompt_tokens=41,
    ttft_s=0.052,
    gen_tps=142.7,
    prompt_tps=851.3,
    total_s=0.66,
    stop_reason="eos",
    model_label="default:Q4_1",
)

FINAL_VIEW = StatsView(
    model_label="default:Q4_1",
    gpu_layers="0/30",
    status="default:Q4_1 ready",
    gen_tps=142.7,
    rates=(96.0, 128.0, 140.0, 151.0, 147.0, 139.0, 144.0, 150.0, 146.0, 142.0, 148.0, 143.0),
    ttft_s=0.052,
    prompt_tps=851.3,
    tokens=87,
    rss_bytes=201_326_592,
    vram_bytes=None,
    has_gpu=False,
    cpu_percent=197.0,
    final=True,
)


@pytest.fixture(autouse=True)
def _no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChatScreen, "AUTOLOAD_MODEL", False)


def test_snapshot_chat_after_a_reply(snap_compare):
    async def fill(pilot) -> None:
        screen = pilot.app.screen
        log = screen.query_one(MessageLog)
        log.add("user", "What does quantization do to a language model?")
        log.add("assistant", REPLY, label="Assistant · default:Q4_1", note=reply_note(STATS))
        screen.show_stats(FINAL_VIEW)
        screen.set_status("default:Q4_1 ready · 2048 ctx · 4 threads")
        await pilot.pause()

    app = make_app(settings=Settings(), start_mode="chat")
    assert snap_compare(app, terminal_size=SIZE, run_before=fill)


def test_snapshot_chat_while_streaming(snap_compare):
    async def fill(pilot) -> None:
        screen = pilot.app.screen
        log = screen.query_one(MessageLog)
        log.add("user", "What does quantization do to a language model?")
        log.add("assistant", REPLY.split("- each")[0], label="Assistant · default:Q4_1")
        live = StatsView(
            model_label="default:Q4_1",
            gpu_layers="0/30",
            status="generating… (Esc stops)",
            gen_tps=139.4,
            rates=(96.0, 128.0, 140.0, 151.0, 147.0),
            ttft_s=0.061,
            tokens=34,
            rss_bytes=199_229_440,
            cpu_percent=199.0,
        )
        screen.show_stats(live)
        screen.set_status("generating… (Esc stops)")
        await pilot.pause()

    app = make_app(settings=Settings(), start_mode="chat")
    assert snap_compare(app, terminal_size=SIZE, run_before=fill)


def test_snapshot_chat_settings_dialog(snap_compare):
    async def open_settings(pilot) -> None:
        await pilot.press("ctrl+t")
        await pilot.pause()

    app = make_app(settings=Settings(), start_mode="chat")
    assert snap_compare(app, terminal_size=SIZE, run_before=open_settings)
