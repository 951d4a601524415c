"""Chat flows on the real bundled model: load, stream a reply with its speed, stop it, survive a crash."""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets.markdown import MarkdownBlock

from edgeapp.settings import Settings
from edgeapp.transcripts import list_transcripts, load_transcript
from edgeapp.tui.engine_session import EngineSession
from edgeapp.tui.screens.chat import ChatScreen
from edgeapp.tui.widgets.chat.message_log import MessageLog
from edgeapp.tui.widgets.stats.stats_panel import StatsPanel
from tests.tui.shell_support import SIZE, make_app, wait_until

pytestmark = pytest.mark.slow

# Greedy and short: the replies are the same every run and each test stays within seconds.
CHAT_SETTINGS = Settings(max_tokens=24, temperature=0.0)
LONG_SETTINGS = Settings(max_tokens=2000, temperature=0.0)
LIMIT_S = 240.0  # a hang guard only: two shared cores can be very busy


def chat_screen(app) -> ChatScreen:
    assert isinstance(app.screen, ChatScreen)
    return app.screen


async def loaded(pilot, screen: ChatScreen) -> None:
    await wait_until(pilot, lambda: screen.session.loaded is not None, "the model to load", LIMIT_S)


async def send(pilot, text: str) -> None:
    await pilot.click("#chat-input")
    await pilot.press(*text, "enter")


def replied(screen: ChatScreen, messages: int) -> bool:
    transcript = screen.transcript
    return transcript is not None and len(transcript.messages) >= messages and not screen.session.streaming


async def test_select_then_chat_streams_a_reply_with_its_speed():
    app = make_app(settings=CHAT_SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        app.state.select_model("default")
        await pilot.press("c")
        screen = chat_screen(app)
        await loaded(pilot, screen)
        await send(pilot, "Name three colours.")
        await wait_until(pilot, lambda: replied(screen, 3), "the reply", LIMIT_S)
        system, question, reply = screen.transcript.messages
        assert system.role == "system" and question.content == "Name three colours."
        assert reply.role == "assistant" and reply.content.strip()
        assert reply.stats is not None and reply.stats.gen_tps > 0
        views = screen.query_one(MessageLog).messages
        assert [v.role for v in views] == ["user", "assistant"] and views[-1].text == reply.content
        body = views[-1].body
        await wait_until(pilot, lambda: not body.streaming, "the reply to be rendered as Markdown")
        assert body.tail_text == "" and body.query(MarkdownBlock)
        assert "tok/s" in str(views[-1].query_one(".message-note").render())
        panel = screen.query_one(StatsPanel)
        assert panel.view.final and panel.view.gen_tps == reply.stats.gen_tps
        assert panel.view.model_label == "default:Q4_1"
        assert f"{reply.stats.gen_tps:.1f} tok/s" in str(panel.query_one("#stats-speed").render())


async def test_escape_stops_a_reply_and_the_transcript_keeps_it():
    app = make_app(settings=LONG_SETTINGS, start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(app)
        await loaded(pilot, screen)
        await send(pilot, "Write a long story about a lighthouse keeper.")
        await wait_until(pilot, lambda: screen.session.live.figures().tokens >= 5, "tokens", LIMIT_S)
        await pilot.press("escape")
        await wait_until(pilot, lambda: replied(screen, 3), "the stopped reply", LIMIT_S)
        reply = screen.transcript.messages[-1]
        assert reply.stats is not None and reply.stats.stop_reason == "cancelled"
        assert 5 <= reply.stats.gen_tokens < 2000
        assert load_transcript(screen.transcript.id).messages[-1].content == reply.content
        assert "stopped" in str(screen.query_one(MessageLog).messages[-1].query_one(".message-note").render())


async def test_engine_killed_mid_reply_shows_error_keeps_transcript_and_reloads():
    app = make_app(settings=LONG_SETTINGS, start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(app)
        await loaded(pilot, screen)
        await send(pilot, "Write a long story about a lighthouse keeper.")
        await wait_until(pilot, lambda: len(screen.session.live.text) > 20, "some text", LIMIT_S)
        os.kill(screen.session.pid, signal.SIGKILL)
        await wait_until(pilot, lambda: not screen.session.streaming, "the crash to be noticed", LIMIT_S)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("engine process died" in m and "SIGKILL" in m for m in errors), errors
        partial = screen.transcript.messages[-1]
        assert partial.role == "assistant" and len(partial.content) > 20 and partial.stats is None
        assert load_transcript(screen.transcript.id).messages[-1].content == partial.content
        assert screen.query_one(MessageLog).messages[-1].has_class("-error")
        assert screen.session.loaded is None
        await pilot.press("ctrl+r")
        await loaded(pilot, screen)
        await send(pilot, "Say hello.")
        await wait_until(pilot, lambda: replied(screen, 5), "a reply from the new engine", LIMIT_S)
        assert screen.transcript.messages[-1].role == "assistant"
        assert screen.transcript.messages[-1].stats is not None


async def test_transcripts_are_saved_and_reopened():
    app = make_app(settings=CHAT_SETTINGS, start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(app)
        await loaded(pilot, screen)
        await send(pilot, "What is a lighthouse?")
        await wait_until(pilot, lambda: replied(screen, 3), "the reply", LIMIT_S)
        first_id = screen.transcript.id
        await pilot.press("ctrl+n")
        assert screen.transcript is None and not screen.query_one(MessageLog).messages
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.transcript is not None and screen.transcript.id == first_id
        assert [v.role for v in screen.query_one(MessageLog).messages] == ["user", "assistant"]
        await send(pilot, "Where are they built?")
        await wait_until(pilot, lambda: replied(screen, 5), "the second reply", LIMIT_S)
    (summary,) = list_transcripts()
    assert summary.id == first_id and summary.title == "What is a lighthouse?"
    assert summary.message_count == 4


async def test_changing_context_size_in_settings_reloads_the_model():
    app = make_app(settings=CHAT_SETTINGS, start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(app)
        await loaded(pilot, screen)
        assert screen.session.loaded.n_ctx == 2048
        await pilot.press("ctrl+t")
        await pilot.pause()
        field = app.screen.query_one("#settings-n_ctx")
        field.value = "1024"
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: screen.session.loaded is not None and screen.session.loaded.n_ctx == 1024,
            "the reload with the new context",
            LIMIT_S,
        )
        assert app.state.settings.n_ctx == 1024


async def test_closing_the_app_stops_the_engine():
    app = make_app(settings=CHAT_SETTINGS, start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        session = app.screen.query_one(EngineSession)
        await wait_until(pilot, lambda: session.loaded is not None, "the model to load", LIMIT_S)
        pid = session.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
