"""The parent's handle on an engine process: start it, send requests, read events, survive its death.

A native crash, an abort or an OOM kill ends the engine process, not the caller: the pipe reports
end-of-file, and the client turns that into `EngineCrashed` with the exit signal and the last lines
of the engine log. A SIGKILL is told apart as an out-of-memory kill where the kernel says so (the
memory cgroup's oom_kill counter, or the kernel log). Methods block; the TUI calls them from worker
threads. `cancel()` may be called from any thread.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeapp.engine.monitor import ResourceMonitor
from edgeapp.engine.oom import OomBaseline, oom_baseline, prefer_as_oom_victim, sigkill_cause
from edgeapp.engine.protocol import (
    Done,
    DryRun,
    Failed,
    Finished,
    Generate,
    Loaded,
    LoadModel,
    MemoryBreakdown,
    Progress,
    Quantize,
    Quantized,
    Ready,
    ScoreText,
    Shutdown,
    TextScore,
    Tokens,
    Unload,
)
from edgeapp.errors import EngineCrashed, EngineError, signal_description

_counter = itertools.count()
_KEEP_LOGS = 20


def engine_log_directory() -> Path:
    """Return the directory of engine logs (kept after a crash, removed after a clean exit)."""
    from edgeapp.locations import cache_directory

    path = cache_directory() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _new_log_path() -> Path:
    directory = engine_log_directory()
    old = sorted(directory.glob("engine-*.log"), key=lambda p: p.stat().st_mtime)
    for stale in old[: max(0, len(old) - _KEEP_LOGS)]:
        with contextlib.suppress(OSError):
            stale.unlink()
    return directory / f"engine-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_counter)}.log"


class EngineClient:
    """One engine process. Use as a context manager, or call start() and close()."""

    def __init__(self, *, monitor_interval_s: float = 0.05) -> None:
        self.monitor_interval_s = monitor_interval_s
        self.ready: Ready | None = None
        self.loaded: Loaded | None = None
        self.monitor: ResourceMonitor | None = None
        self.log_path: Path | None = None
        self._process: Any = None
        self._conn: Any = None
        self._cancel: Any = None
        self._busy = False
        self._log_offset = 0  # where the engine log stood when the last request was sent
        self._keep_log = False  # a request failed: the log explains why, so keep it
        self._oom_baseline = OomBaseline((), 0)
        self._started_at_s = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout_s: float = 120.0) -> Ready:
        """Spawn the engine process and wait until llama.cpp is initialised."""
        from edgeapp.engine.worker import run_worker

        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe()
        self._cancel = context.RawValue("b", 0)
        self.log_path = _new_log_path()
        self._process = context.Process(
            target=run_worker,
            args=(child_conn, self._cancel, str(self.log_path)),
            name="edgeapp-engine",
            daemon=True,
        )
        _ensure_resource_tracker()
        with _main_module_hidden():
            self._process.start()
        child_conn.close()  # so that the child's death reads as end-of-file here
        self._conn = parent_conn
        self._started_at_s = time.monotonic()
        self._oom_baseline = oom_baseline(self._process.pid)
        prefer_as_oom_victim(self._process.pid)
        self.monitor = ResourceMonitor(self._process.pid, self.monitor_interval_s)
        event = self._receive(timeout_s, "starting the engine")
        if not isinstance(event, Ready):
            raise EngineError(f"the engine did not start properly: {event!r}")
        self.ready = event
        _remember_baseline(event.baseline_rss_bytes)
        return event

    @property
    def pid(self) -> int | None:
        """Return the engine process id, or None before start."""
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        """Return True while the engine process runs."""
        return self._process is not None and self._process.is_alive()

    def close(self, timeout_s: float = 5.0) -> None:
        """Ask the engine to exit, then make sure it has; remove its log after a clean exit."""
        if self._process is None:
            return
        if self._process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(Shutdown())
            self._process.join(timeout_s)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout_s)
        clean = self._process.exitcode == 0 and not self._keep_log
        self._teardown()
        if clean and self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def kill(self) -> None:
        """Kill the engine process at once (SIGKILL)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    def _teardown(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
        with contextlib.suppress(OSError):
            self._conn.close()
        self._process = None
        self.loaded = None

    def __enter__(self) -> EngineClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------------

    def load(self, request: LoadModel, timeout_s: float | None = 600.0) -> Loaded:
        """Load a model; raises EngineError if llama.cpp refuses it."""
        self.loaded = None  # the engine frees the previous model before it tries this one
        event = self._call(request, timeout_s, "loading the model")
        self.loaded = _expect(event, Loaded)
        return self.loaded

    def unload(self) -> None:
        """Free the loaded model (the process stays up)."""
        _expect(self._call(Unload(), 60.0, "unloading"), Done)
        self.loaded = None

    def generate(self, request: Generate) -> Iterator[Tokens | Finished]:
        """Yield Tokens events as they arrive and finally one Finished event."""
        self._cancel.value = 0
        self._send(request)
        self._busy = True
        try:
            while True:
                event = self._receive(None, "generating")
                if isinstance(event, Failed):
                    raise self._failed(event)
                if isinstance(event, Finished):
                    self._calibrate_gpu_context()
                yield event
                if isinstance(event, Finished):
                    return
        finally:
            self._busy = False

    def _calibrate_gpu_context(self) -> None:
        """Take a full sample (VRAM included) and record what the GPU holds beyond llama.cpp's
        buffers (CUDA context, cuBLAS workspace).

        Measured after a generation, when every lazy allocation has happened: the estimator
        adds it to the buffers of the next estimate on this machine.
        """
        if self.monitor is None:
            return
        sample = self.monitor.sample()  # the thread reads VRAM only twice a second
        loaded = self.loaded
        if loaded is None or loaded.gpu_layers <= 0 or loaded.device_buffer_bytes <= 0:
            return
        if sample is None or not sample.vram_bytes or sample.vram_bytes <= loaded.device_buffer_bytes:
            return
        from edgeapp.memory_calibration import record_gpu_context

        with contextlib.suppress(OSError):
            record_gpu_context(sample.vram_bytes - loaded.device_buffer_bytes)

    def cancel(self) -> None:
        """Stop the current generation or scoring soon (safe from any thread)."""
        if self._cancel is not None:
            self._cancel.value = 1

    def quantize(self, request: Quantize, timeout_s: float | None = 3600.0) -> Quantized:
        """Write a quantized copy of a model (atomically)."""
        return _expect(self._call(request, timeout_s, "quantizing"), Quantized)

    def dry_run(self, request: DryRun, timeout_s: float | None = 120.0) -> MemoryBreakdown:
        """Return llama.cpp's own plan of what a load would allocate."""
        return _expect(self._call(request, timeout_s, "planning the load"), MemoryBreakdown)

    def score(self, request: ScoreText) -> Iterator[Progress | TextScore]:
        """Yield Progress events and finally the TextScore of the loaded model on a text."""
        self._cancel.value = 0
        self._send(request)
        while True:
            event = self._receive(None, "scoring the text")
            if isinstance(event, Failed):
                raise self._failed(event)
            yield event
            if isinstance(event, TextScore):
                return

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, request: Any, timeout_s: float | None, doing: str) -> Any:
        self._send(request)
        event = self._receive(timeout_s, doing)
        if isinstance(event, Failed):
            raise self._failed(event)
        return event

    def _failed(self, event: Failed) -> EngineError:
        """Return the error for a refused request, with llama.cpp's own reason when it logged one."""
        self._keep_log = True
        message = event.message
        detail = _last_log_line(self.log_path, self._log_offset, stop_at_traceback=True)
        if detail and detail not in message:
            message += f": {detail}"
        if "engine log" in message and self.log_path is not None:
            message += f" [log: {self.log_path}]"
        return EngineError(message)

    def _send(self, request: Any) -> None:
        if self._process is None:
            raise EngineError("the engine is not running")
        if self.monitor is not None:
            self.monitor.active = True
        with contextlib.suppress(OSError, TypeError):
            self._log_offset = os.path.getsize(self.log_path)  # type: ignore[arg-type]
        try:
            self._conn.send(request)
        except (BrokenPipeError, OSError, EOFError):
            raise self._crashed("sending a request") from None

    def _receive(self, timeout_s: float | None, doing: str) -> Any:
        event = self._receive_event(timeout_s, doing)
        if self.monitor is not None and isinstance(event, _FINAL_EVENTS):
            self.monitor.active = False  # sample slowly until the next request
        return event

    def _receive_event(self, timeout_s: float | None, doing: str) -> Any:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                if self._conn.poll(wait):
                    return self._conn.recv()
            except (EOFError, OSError):
                raise self._crashed(doing) from None
            if not self._process.is_alive() and not self._conn.poll(0):
                raise self._crashed(doing)
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                raise self._crashed(doing, f"no answer after {timeout_s:.0f} s; the engine was stopped")

    def _crashed(self, doing: str, why: str | None = None) -> EngineCrashed:
        self._process.join(2)
        exitcode = self._process.exitcode
        reason = why or signal_description(exitcode)
        if why is None and exitcode == -signal.SIGKILL:
            cause = sigkill_cause(self._process.pid, self._oom_baseline, self._started_at_s)
            if cause:
                reason = f"SIGKILL, {cause}"
        detail = _last_log_line(self.log_path, self._log_offset)
        message = f"the engine process died while {doing} ({reason})"
        if detail:
            message += f": {detail}"
        if self.log_path is not None:
            message += f" [log: {self.log_path}]"
        self._teardown()
        return EngineCrashed(message, exitcode)


_tracker_lock = threading.Lock()
# Events that end a request: after them the engine is idle until the next one.
_FINAL_EVENTS = (Finished, TextScore, Loaded, Done, Quantized, MemoryBreakdown, Failed, Ready)


def _ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr, before the first spawn.

    Spawning passes the tracker's pipe and, on its first start, `sys.stderr.fileno()` to the
    child; inside a Textual app sys.stderr is Textual's capture, whose fileno() is -1, and the
    spawn fails with "bad value(s) in fds_to_keep". Starting it once with the original stderr
    avoids that wherever the engine is started from.
    """
    from multiprocessing import resource_tracker

    with _tracker_lock:
        saved = sys.stderr
        try:
            if sys.__stderr__ is not None:
                sys.stderr = sys.__stderr__
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Keep spawn from re-running the parent's __main__ in the engine process.

    The engine needs nothing from it, and a script without an `if __name__ == "__main__"` guard
    would otherwise start a second engine from inside the first.
    """
    main = sys.modules.get("__main__")
    saved_file = getattr(main, "__file__", None)
    saved_spec = getattr(main, "__spec__", None)
    if main is not None:
        main.__spec__ = None
        if saved_file is not None:
            del main.__file__
    try:
        yield
    finally:
        if main is not None:
            main.__spec__ = saved_spec
            if saved_file is not None:
                main.__file__ = saved_file


def _remember_baseline(rss_bytes: int) -> None:
    """Keep the engine's own footprint for the memory estimator (never fails a start)."""
    with contextlib.suppress(Exception):
        from edgeapp.memory_calibration import record_engine_baseline

        record_engine_baseline(rss_bytes)


def _expect(event: Any, kind: type) -> Any:
    if not isinstance(event, kind):
        raise EngineError(f"unexpected answer from the engine: {type(event).__name__}")
    return event


def _last_log_line(path: Path | None, since: int = 0, *, stop_at_traceback: bool = False) -> str:
    """Return the most telling engine-log line written after byte `since` ("" if none).

    An assert or failed allocation first, then an error, then a failure. With `stop_at_traceback`,
    the worker's own Python traceback is ignored: it repeats the message the caller already has.
    """
    if path is None or not path.exists():
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(since, path.stat().st_size - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    if stop_at_traceback:
        text = text.split("Traceback (most recent call last)")[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for words in (("GGML_ASSERT", "bad_alloc"), ("error", "Error"), ("failed", "abort")):
        for line in reversed(lines):
            if any(word in line for word in words):
                return line[:300]
    return ""
