"""The engine process: receives requests on a pipe, runs llama.cpp, sends events back.

Started by `client.EngineClient` with multiprocessing's spawn method, so it is a fresh interpreter
that shares no state with the parent. Its stdout and stderr go to a log file: llama.cpp and native
crash messages must never write over the parent's terminal UI.
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from edgeapp.engine.protocol import (
    Done,
    DryRun,
    Failed,
    Finished,
    Generate,
    LoadModel,
    Quantize,
    Ready,
    ScoreText,
    Shutdown,
    Unload,
)


def _redirect_output(log_path: str) -> Any:
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115 (lives as long as the process)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    return log


def run_worker(conn: Connection, cancel_flag: Any, log_path: str) -> None:
    """Serve requests until Shutdown or the parent goes away."""
    log = _redirect_output(log_path)
    import llama_cpp as L

    from edgeapp.engine import logs
    from edgeapp.engine.session import Session, max_rss_bytes

    L.llama_backend_init()
    logs.install(log)
    conn.send(
        Ready(
            pid=os.getpid(),
            llama_cpp_version=getattr(L, "__version__", "?"),
            gpu_offload_supported=bool(L.llama_supports_gpu_offload()),
            system_info=L.llama_print_system_info().decode("utf-8", "replace").strip(),
            baseline_rss_bytes=max_rss_bytes(),
            log_path=log_path,
        )
    )
    state: dict[str, Session | None] = {"session": None}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break
        if isinstance(request, Shutdown):
            break
        try:
            _handle(request, state, conn, cancel_flag)
        except Exception as error:  # a Python-level failure: report it, stay alive
            print(traceback.format_exc(), file=log)
            conn.send(Failed(_kind(request), _describe(error)))
    session = state["session"]
    if session is not None:
        session.close()
    conn.close()


def _handle(request: Any, state: dict[str, Any], conn: Connection, cancel_flag: Any) -> None:
    from edgeapp.engine import generate, jobs
    from edgeapp.engine.session import Session

    if isinstance(request, LoadModel):
        if state["session"] is not None:
            state["session"].close()
            state["session"] = None
        session, loaded = Session.load(request)
        state["session"] = session
        conn.send(loaded)
    elif isinstance(request, Generate):
        session = state["session"]
        if session is None:
            conn.send(Failed("generate", "no model is loaded"))
            return
        stats = generate.generate(session, request, conn.send, cancel_flag)
        conn.send(Finished(stats))
    elif isinstance(request, Unload):
        if state["session"] is not None:
            state["session"].close()
            state["session"] = None
        conn.send(Done())
    elif isinstance(request, Quantize):
        conn.send(jobs.quantize(request))
    elif isinstance(request, DryRun):
        conn.send(jobs.dry_run(request))
    elif isinstance(request, ScoreText):
        from edgeapp.engine import scoring

        conn.send(scoring.score_text(state["session"], request, conn.send, cancel_flag))
    else:
        conn.send(Failed("request", f"unknown request {type(request).__name__}"))


def _kind(request: Any) -> str:
    return {
        LoadModel: "load",
        Generate: "generate",
        Quantize: "quantize",
        DryRun: "dry_run",
        ScoreText: "score",
    }.get(type(request), "request")


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
