"""Route llama.cpp's log in the engine process: to the engine log file, and to temporary listeners.

One C callback is installed for the life of the process (ctypes callbacks must stay referenced).
DEBUG lines are dropped: llama.cpp prints thousands per load. Native crashes print straight to
fd 2, which the worker points at the same file, so the parent can quote the last lines.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import TextIO

import llama_cpp as L

_DEBUG = 1
_listeners: list[list[str]] = []
_stream: TextIO | None = None
_callback = None


def install(stream: TextIO) -> None:
    """Send llama.cpp's log (INFO and above) to `stream` from now on."""
    global _stream, _callback
    _stream = stream

    @L.llama_log_callback
    def route(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if level == _DEBUG:
            return
        line = text.decode("utf-8", "replace")
        for sink in _listeners:
            sink.append(line)
        if _stream is not None:
            _stream.write(line)

    _callback = route
    L.llama_log_set(route, None)


@contextlib.contextmanager
def capture(sink: list[str]) -> Iterator[None]:
    """Also collect log lines into `sink` while the block runs."""
    _listeners.append(sink)
    try:
        yield
    finally:
        _listeners.remove(sink)
