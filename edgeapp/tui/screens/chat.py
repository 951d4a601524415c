"""The chat screen: a streaming Markdown conversation with live engine statistics.

The model is the one the models screen selected (`app.state.selected_ref`); it is loaded in the
background when the screen is shown, and reloaded when the selection, the context size or the GPU
layers change. Every finished, stopped or broken reply is saved to the transcript at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from edgeapp.engine.protocol import ChatMessage, Generate
from edgeapp.errors import EdgeappError
from edgeapp.transcripts import (
    ReplyStats,
    Transcript,
    TranscriptMessage,
    load_transcript,
    new_transcript,
    save_transcript,
)
from edgeapp.tui.engine_session import EngineSession
from edgeapp.tui.screens.chat_settings import RELOADING_FIELDS, ChatSettingsScreen
from edgeapp.tui.screens.transcripts import TranscriptsScreen
from edgeapp.tui.state import AppState, state_of
from edgeapp.tui.widgets.app_header import AppHeader
from edgeapp.tui.widgets.chat.message_log import MessageLog
from edgeapp.tui.widgets.chat.message_view import MessageView
from edgeapp.tui.widgets.stats.stats_panel import StatsPanel
from edgeapp.tui.widgets.stats.stats_view import StatsView, fmt_seconds, fmt_tps

TRANSCRIPT_SETTINGS = (
    "system_prompt",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "seed",
    "max_tokens",
    "n_ctx",
    "gpu_layers",
)
RESOURCE_SAMPLE_S = 0.5


def reply_note(stats: ReplyStats) -> str:
    """Return the footnote under a finished reply: speed, tokens, latency, and why it ended."""
    note = f"{fmt_tps(stats.gen_tps)} · {stats.gen_tokens} tokens · TTFT {fmt_seconds(stats.ttft_s)}"
    reasons = {"cancelled": "stopped", "length": "max tokens reached", "context_full": "context full"}
    if stats.stop_reason in reasons:
        note += f" · {reasons[stats.stop_reason]}"
    return note


class ChatScreen(Screen):
    """Chat with the selected model; the stats panel follows the engine live."""

    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("ctrl+o", "transcripts", "Transcripts"),
        Binding("ctrl+t", "settings", "Settings"),
        Binding("ctrl+r", "reload", "Reload model"),
    ]

    AUTOLOAD_MODEL = True  # load the selected model when the screen is shown (snapshot tests turn it off)

    # A grid straight on the screen rather than nested containers: every repaint of a streamed
    # update also renders each container around the reply, so fewer of them is a cheaper frame.
    DEFAULT_CSS = """
    ChatScreen { layout: grid; grid-size: 2 3; grid-columns: 1fr 36; grid-rows: 1 1fr auto; }
    ChatScreen #chat-status { height: 1; padding: 0 1; color: $text-muted; }
    ChatScreen #chat-log, ChatScreen #chat-input { margin: 0 1 0 0; }
    ChatScreen #chat-stats { row-span: 3; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.transcript: Transcript | None = None
        self._reply_view: MessageView | None = None
        self._queued = False  # a user message waits for the model to load
        self._wanted_key: tuple[Any, ...] | None = None
        self._loaded_key: tuple[Any, ...] | None = None
        self._view = StatsView()

    @property
    def app_state(self) -> AppState:
        """Return the app's shared state (settings, hardware, selected model)."""
        return state_of(self)

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("no model loaded", id="chat-status")
        yield StatsPanel(id="chat-stats")
        yield MessageLog(id="chat-log")
        yield Input(placeholder="Ask something and press Enter", id="chat-input")
        yield EngineSession(id="chat-engine")
        yield Footer()

    @property
    def session(self) -> EngineSession:
        return self.query_one("#chat-engine", EngineSession)

    def on_mount(self) -> None:
        hardware = self.app_state.hardware
        self._view = replace(self._view, has_gpu=bool(hardware and hardware.gpus))
        self.show_stats(self._view)
        self.set_interval(RESOURCE_SAMPLE_S, self._sample_resources)
        self.query_one("#chat-input", Input).focus()
        # A model selected (or settings changed) from the palette while this screen shows.
        if hasattr(self.app, "selected_ref"):
            self.watch(self.app, "selected_ref", self._selection_changed, init=False)
            self.watch(self.app, "settings", self._selection_changed, init=False)

    def _selection_changed(self, _value: object) -> None:
        if self.AUTOLOAD_MODEL and self.is_current:
            self.ensure_model()

    def on_screen_resume(self) -> None:
        if self.AUTOLOAD_MODEL:
            self.ensure_model()

    # -- model -------------------------------------------------------------------------------

    def _model_key(self) -> tuple[Any, ...]:
        settings = self.app_state.settings
        return (self.app_state.selected_ref, settings.n_ctx, settings.gpu_layers, settings.threads)

    def ensure_model(self, *, force: bool = False) -> None:
        """Load the selected model unless it is loaded (or loading) with the current settings."""
        session = self.session
        key = self._model_key()
        if session.busy or (not force and key == self._loaded_key and session.loaded is not None):
            return
        self._wanted_key, self._loaded_key = key, None
        self.set_status(f"loading {key[0]}…")
        session.load(key[0], self.app_state.settings, self.app_state.hardware)

    def set_status(self, text: str) -> None:
        """Show what the engine is doing above the messages and in the stats panel."""
        self.query_one("#chat-status", Static).update(text)
        self.show_stats(replace(self._view, status=text))

    def show_stats(self, view: StatsView) -> None:
        """Show `view` in the stats panel (tests inject fixed views for snapshots)."""
        self._view = view
        self.query_one(StatsPanel).show(view)

    def _sample_resources(self) -> None:
        if not self.session.streaming:
            self.show_stats(self._view.with_sample(self.session.resources()))

    @on(EngineSession.Status)
    def _on_status(self, message: EngineSession.Status) -> None:
        self.set_status(message.text)

    @on(EngineSession.ModelLoaded)
    def _on_loaded(self, message: EngineSession.ModelLoaded) -> None:
        self._loaded_key = self._wanted_key
        loaded = message.loaded
        layers = f"{loaded.gpu_layers}/{loaded.n_layers}"
        self._view = replace(self._view, model_label=message.model.label, gpu_layers=layers)
        self.set_status(f"{message.model.label} ready · {loaded.n_ctx} ctx · {loaded.threads} threads")
        if self._queued:
            self._queued = False
            self._send()
        elif self._model_key() != self._loaded_key:
            self.ensure_model()  # settings changed while it loaded

    # -- conversation ------------------------------------------------------------------------

    @on(Input.Submitted, "#chat-input")
    def _on_submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if self.session.streaming or self._queued:
            self.notify("Wait for the reply, or press Esc to stop it.", severity="warning")
            return
        event.input.clear()
        self._append(TranscriptMessage("user", text))
        self.query_one(MessageLog).add("user", text)
        if self.session.loaded is not None and not self.session.busy:
            self._send()
        else:
            self._queued = True
            self.ensure_model()

    def _append(self, message: TranscriptMessage) -> None:
        if self.transcript is None:
            settings = self.app_state.settings
            self.transcript = new_transcript(
                self._view.model_label,
                {name: getattr(settings, name) for name in TRANSCRIPT_SETTINGS},
                settings.system_prompt,
            )
        self.transcript = self.transcript.with_message(message)

    def _send(self) -> None:
        assert self.transcript is not None
        settings = self.app_state.settings
        history = tuple(ChatMessage(m.role, m.content) for m in self.transcript.messages)
        self.stream_request(
            Generate(messages=history, sampling=settings.sampling(), max_tokens=settings.max_tokens)
        )

    def stream_request(self, request: Generate) -> None:
        """Show a new assistant message and stream `request` into it (the benchmark sends raw prompts)."""
        self.begin_reply()
        self.set_status("generating… (Esc stops)")
        self.session.reply(request)

    def begin_reply(self) -> MessageView:
        """Add the assistant message that the next Progress messages stream into, and return it."""
        label = f"Assistant · {self._view.model_label}"
        self._reply_view = self.query_one(MessageLog).add("assistant", label=label)
        # A blinking cursor is a frame of its own twice a second, taken from the engine's CPU.
        self.query_one("#chat-input", Input).cursor_blink = False
        return self._reply_view

    def _end_reply(self) -> MessageView | None:
        """Render the streamed reply as Markdown; return its view (None if none was streaming)."""
        view, self._reply_view = self._reply_view, None
        self.query_one("#chat-input", Input).cursor_blink = True
        if view is not None:
            view.finish()
        return view

    @on(EngineSession.Progress)
    def _on_progress(self, message: EngineSession.Progress) -> None:
        if self._reply_view is not None and message.delta:
            self._reply_view.append(message.delta)
        self.show_stats(self._view.with_live(message.figures, message.sample))

    @on(EngineSession.ReplyFinished)
    def _on_finished(self, message: EngineSession.ReplyFinished) -> None:
        stats = ReplyStats.from_generation(message.stats, self._view.model_label)
        view = self._end_reply()
        if view is not None:
            view.note(reply_note(stats))
        self._append(TranscriptMessage("assistant", message.stats.text, stats))
        self._save()
        self.show_stats(self._view.with_final(message.stats))
        self.set_status(f"{self._view.model_label} ready")
        self.ensure_model()  # applies settings changed during the reply

    @on(EngineSession.Failed)
    def _on_failed(self, message: EngineSession.Failed) -> None:
        self.notify(str(message.error), title="Engine error", severity="error", timeout=10)
        self._queued = False
        view = self._end_reply()
        if view is not None:
            view.note(f"reply broken off: {message.error}", error=True)
            if message.text:
                self._append(TranscriptMessage("assistant", message.text))
            self._save()
        if message.crashed:
            self._loaded_key = None
            self.set_status("engine stopped · ctrl+r loads the model again")
        else:
            self.set_status(f"failed while {message.doing}")

    def _save(self) -> None:
        if self.transcript is None or not self.transcript.has_reply:
            return
        try:
            save_transcript(self.transcript)
        except OSError as error:
            self.notify(f"could not save the transcript: {error}", severity="error")

    # -- actions -----------------------------------------------------------------------------

    def action_stop(self) -> None:
        """Stop the reply being generated (or, while the model loads, the reply waiting for it)."""
        if self.session.streaming:
            self.session.stop()
        elif self._queued:
            self._queued = False
            self.notify("Not sent: the model is still loading. Press Enter on a message to send it.")

    def action_new_chat(self) -> None:
        """Start a new conversation (the previous one is already saved)."""
        self.action_stop()
        self.transcript = None
        self.query_one(MessageLog).clear()
        self.query_one("#chat-input", Input).focus()

    def action_reload(self) -> None:
        """Load the model again (after an engine crash, or to start afresh)."""
        if self.session.busy:
            self.notify("The engine is busy; press Esc first.", severity="warning")
            return
        self.ensure_model(force=True)

    def action_settings(self) -> None:
        """Open the chat settings dialog."""
        self.app.push_screen(ChatSettingsScreen(self.app_state.settings), self._apply_settings)

    def _apply_settings(self, changes: dict[str, Any] | None) -> None:
        if not changes:
            return
        self.app_state.update_settings(**changes)
        if RELOADING_FIELDS & changes.keys():
            self.ensure_model()
        self.notify(
            "Settings saved" + (" · reloading the model" if RELOADING_FIELDS & changes.keys() else "")
        )

    def action_transcripts(self) -> None:
        """Open the list of saved transcripts."""
        self.app.push_screen(TranscriptsScreen(), self.open_transcript)

    def open_transcript(self, transcript_id: str | None) -> None:
        """Show a saved transcript; the next message continues it."""
        if transcript_id is None:
            return
        if self.session.streaming:
            self.notify("Stop the reply first (Esc).", severity="warning")
            return
        try:
            transcript = load_transcript(transcript_id)
        except EdgeappError as error:
            self.notify(str(error), severity="error")
            return
        self.transcript = transcript
        log = self.query_one(MessageLog)
        log.clear()
        for message in transcript.messages:
            if message.role == "system":
                continue
            label = None
            if message.role == "assistant":
                label = (
                    f"Assistant · {message.stats.model_label if message.stats else transcript.model_label}"
                )
            note = reply_note(message.stats) if message.stats is not None else ""
            log.add(message.role, message.content, label=label, note=note)
        self.notify(f"Reopened “{transcript.title}”")
