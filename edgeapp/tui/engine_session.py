"""The TUI's owner of an engine process: start, load, stream, stop, survive a crash, close.

`EngineSession` is an invisible widget a screen mounts (chat: one; compare: two). Every blocking
engine call runs in a thread worker, so the UI never waits for a spawn (~0.5 s), a derivation
(seconds) or a load. Token batches go into a `LiveReply`; a timer takes them and posts one
`Progress` message per tick, at most 30 times a second and less when redrawing costs the UI
thread more than its CPU budget (`RefreshPacer`), so the UI's work is bounded however fast the
engine runs. Results and failures come back as messages; nothing raised in a worker reaches
Textual's crash screen.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

from edgeapp.engine.client import EngineClient
from edgeapp.engine.monitor import ResourceSample
from edgeapp.engine.protocol import ChatMessage, Generate, GenerationStats, Loaded
from edgeapp.errors import EdgeappError, EngineCrashed, EngineError
from edgeapp.refs import ResolvedModel
from edgeapp.runs import RunResult, RunSettings, generate_request, load_request, stream_reply
from edgeapp.settings import Settings
from edgeapp.tui.live_reply import LiveFigures, LiveReply
from edgeapp.tui.load_plan import plan_load, run_result
from edgeapp.tui.refresh_pacer import RefreshPacer

if TYPE_CHECKING:
    from edgeapp.hardware import HardwareInfo

_open_clients: weakref.WeakSet[EngineClient] = weakref.WeakSet()


def close_all_engines() -> None:
    """Close every engine process the TUI started that is still running (app exit)."""
    for client in list(_open_clients):
        with contextlib.suppress(Exception):
            client.cancel()
            client.close(timeout_s=2.0)


atexit.register(close_all_engines)


class EngineSession(Widget):
    """One engine process for a screen, driven from thread workers, reporting through messages."""

    DEFAULT_CSS = "EngineSession { display: none; }"

    @dataclass
    class Status(Message):
        """Something is happening (starting, deriving, loading); `text` says what."""

        session: EngineSession
        text: str

        @property
        def control(self) -> EngineSession:
            return self.session

    @dataclass
    class ModelLoaded(Message):
        session: EngineSession
        model: ResolvedModel
        loaded: Loaded
        run: RunSettings

        @property
        def control(self) -> EngineSession:
            return self.session

    @dataclass
    class Progress(Message):
        """Text received since the last tick and the live figures (at most 30 a second; see RefreshPacer)."""

        session: EngineSession
        delta: str
        figures: LiveFigures
        sample: ResourceSample | None

        @property
        def control(self) -> EngineSession:
            return self.session

    @dataclass
    class ReplyFinished(Message):
        """The reply ended (eos, length, stop or cancelled); `run` is set for one-shot runs."""

        session: EngineSession
        stats: GenerationStats
        token_times: tuple[tuple[float, int], ...]
        run: RunResult | None = None

        @property
        def control(self) -> EngineSession:
            return self.session

    @dataclass
    class Failed(Message):
        """A request failed; `crashed` when the engine process died. `text` is the reply so far."""

        session: EngineSession
        error: EdgeappError
        crashed: bool
        doing: str
        text: str = ""

        @property
        def control(self) -> EngineSession:
            return self.session

    @dataclass
    class _Done(Message, bubble=False):
        stats: GenerationStats | None
        token_times: tuple[tuple[float, int], ...]
        run: RunResult | None
        error: EdgeappError | None
        doing: str

    def __init__(
        self,
        *,
        pacer: RefreshPacer | None = None,
        monitor_interval_s: float = 0.25,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.pacer = pacer or RefreshPacer()
        self.monitor_interval_s = monitor_interval_s
        self.live = LiveReply()
        self.model: ResolvedModel | None = None
        self.loaded: Loaded | None = None
        self.run_settings: RunSettings | None = None
        self.status = "no model loaded"
        self.streaming = False
        self._client: EngineClient | None = None
        self._engine_lock = threading.Lock()  # one worker at a time talks to the engine
        self._busy = 0
        self._ticker: Timer | None = None
        self._stop_requested = False  # Esc before the reply started (during a load)

    def on_unmount(self) -> None:
        self.shutdown()

    # -- what screens read -------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Return the engine process id while one runs."""
        client = self._client
        return client.pid if client is not None and client.alive else None

    @property
    def busy(self) -> bool:
        """Return True while a worker is starting, loading or generating."""
        return self._busy > 0

    def resources(self) -> ResourceSample | None:
        """Return the latest RSS/VRAM/CPU sample of the engine process (None without one)."""
        client = self._client
        monitor = client.monitor if client is not None else None
        return monitor.latest if monitor is not None else None

    # -- requests ----------------------------------------------------------------------------

    def load(self, ref: str, settings: Settings, hardware: HardwareInfo | None) -> None:
        """Load `ref` (starting the engine if needed) in a worker; ModelLoaded or Failed follows."""
        self._busy += 1
        self.loaded = None
        self._load_worker(ref, settings, hardware)

    def reply(self, request: Generate) -> None:
        """Stream a reply from the loaded model; Progress messages, then ReplyFinished or Failed."""
        self._begin_stream()
        self._reply_worker(request)

    def run_once(
        self, ref: str, settings: Settings, hardware: HardwareInfo | None, prompt: str, threads: int | None
    ) -> None:
        """Start a fresh engine, load `ref`, answer `prompt` (one user message), close the engine."""
        self._begin_stream()
        self._run_worker(ref, settings, hardware, prompt, threads)

    def stop(self) -> None:
        """Ask the engine to stop the reply in flight (it finishes with stop_reason 'cancelled')."""
        self._stop_requested = True
        if self._client is not None:
            self._client.cancel()

    def shutdown(self) -> None:
        """Stop any reply and close the engine process (blocks up to a few seconds)."""
        client, self._client = self._client, None
        self.loaded = None
        if client is not None:
            client.cancel()
            with contextlib.suppress(Exception):
                client.close(timeout_s=2.0)
            _open_clients.discard(client)

    # -- workers -----------------------------------------------------------------------------

    def _begin_stream(self) -> None:
        self._busy += 1
        self._stop_requested = False
        self.streaming = True
        self.live.start()
        self._schedule_tick(self.pacer.start())

    def _post_status(self, text: str) -> None:
        self.status = text
        self.post_message(self.Status(self, text))

    def _ensure_client(self) -> EngineClient:
        if self._client is None or not self._client.alive:
            self._post_status("starting the engine…")
            client = EngineClient(monitor_interval_s=self.monitor_interval_s)
            client.start()
            self._client = client
            _open_clients.add(client)
        return self._client

    @work(thread=True, exclusive=True, group="engine-load", exit_on_error=False)
    def _load_worker(self, ref: str, settings: Settings, hardware: HardwareInfo | None) -> None:
        doing = f"loading {ref}"
        try:
            with self._engine_lock:
                model, run = plan_load(ref, settings, hardware, on_status=self._post_status)
                client = self._ensure_client()
                self._post_status(f"loading {model.label}…")
                loaded = client.load(load_request(model, run))
            self.model, self.loaded, self.run_settings = model, loaded, run
            self.post_message(self.ModelLoaded(self, model, loaded, run))
        except Exception as error:  # every failure becomes a message
            self.post_message(self._Done(None, (), None, _as_edgeapp_error(error), doing))
            return
        self.post_message(self._Done(None, (), None, None, "loaded"))

    @work(thread=True, exclusive=True, group="engine-reply", exit_on_error=False)
    def _reply_worker(self, request: Generate) -> None:
        try:
            with self._engine_lock:
                if self._client is None or self.loaded is None:
                    raise EngineError("no model is loaded; load one first")
                self._raise_if_stopped()
                stats, timeline = stream_reply(self._client, request, self._on_tokens)
            self.post_message(self._Done(stats, timeline, None, None, "generating"))
        except Exception as error:
            self.post_message(self._Done(None, (), None, _as_edgeapp_error(error), "generating"))

    @work(thread=True, exclusive=True, group="engine-run", exit_on_error=False)
    def _run_worker(
        self, ref: str, settings: Settings, hardware: HardwareInfo | None, prompt: str, threads: int | None
    ) -> None:
        doing = f"running {ref}"
        try:
            with self._engine_lock:
                model, run = plan_load(ref, settings, hardware, threads=threads, on_status=self._post_status)
                client = self._ensure_client()
                self._post_status(f"loading {model.label}…")
                loaded = client.load(load_request(model, run))
                self.model, self.loaded, self.run_settings = model, loaded, run
                self.post_message(self.ModelLoaded(self, model, loaded, run))
                self._raise_if_stopped()
                self._post_status("generating…")
                self.live.start()  # time the reply from here, not from the load
                request = generate_request(run, messages=(ChatMessage("user", prompt),))
                stats, timeline = stream_reply(client, request, self._on_tokens)
                result = run_result(client, model, run, loaded, stats, timeline)
                self.shutdown()  # fair mode: the next run gets the machine to itself
            self.post_message(self._Done(result.stats, result.token_times, result, None, doing))
        except Exception as error:
            self.shutdown()  # a one-shot engine never outlives its run
            self.post_message(self._Done(None, (), None, _as_edgeapp_error(error), doing))

    def _raise_if_stopped(self) -> None:
        # The engine's cancel flag is reset when a generation starts, so a stop that arrived
        # during the load is checked here.
        if self._stop_requested:
            raise StoppedBeforeReply("stopped before the reply started")

    def _on_tokens(self, event: Any) -> None:
        self.live.add(event.text, event.n_tokens, event.t)

    # -- UI thread ---------------------------------------------------------------------------

    def _schedule_tick(self, delay_s: float) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        self._ticker = self.set_timer(delay_s, self._tick)

    def _tick(self) -> None:
        self._post_progress()
        if self.streaming:
            self._schedule_tick(self.pacer.next_interval())

    def _post_progress(self) -> None:
        delta, figures = self.live.take()
        self.post_message(self.Progress(self, delta, figures, self.resources()))

    def on_engine_session__done(self, message: EngineSession._Done) -> None:
        self._busy = max(0, self._busy - 1)
        was_streaming = self.streaming
        if self.streaming:
            self.streaming = False
            if self._ticker is not None:
                self._ticker.stop()
            self._post_progress()  # the last text before the final message
        if message.error is not None:
            crashed = isinstance(message.error, EngineCrashed)
            if crashed:
                self.loaded = None
                self._client = None
            self.status = "engine stopped" if crashed else "ready" if self.loaded else "no model loaded"
            text = self.live.text if was_streaming else ""
            self.post_message(self.Failed(self, message.error, crashed, message.doing, text))
        elif message.stats is not None:
            self.status = "ready" if self.loaded is not None and message.run is None else "finished"
            self.post_message(self.ReplyFinished(self, message.stats, message.token_times, message.run))
        else:
            self.status = "ready"


class StoppedBeforeReply(EngineError):
    """The user stopped a run while its model was still loading."""


def _as_edgeapp_error(error: BaseException) -> EdgeappError:
    if isinstance(error, EdgeappError):
        return error
    return EngineError(f"{type(error).__name__}: {error}")
