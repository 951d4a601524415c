"""Route llama.cpp's log in the engine process: to the engine log file, and to temporary listeners.

One C callback is installed for the life of the process (ctypes callbacks must stay referenced).
DEBUG lines are dropped: llama.cpp prints thousands per load. Native crashes print straight to
fd 2, which the worker points at the same file, so the parent can quote the last lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
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


# llama.cpp prints its buffer sizes as "<who>: <BUFFER TYPE> <kind> buffer size = <n> MiB".
_BUFFER_LINE = re.compile(r"(\w+)\s*:\s+(\S+)\s+(model|KV|compute|output)\s+buffer size\s*=\s*([\d.]+) MiB")
_HOST_BUFFERS = ("CPU", "CPU_Mapped", "CPU_REPACK", "CPU_AARCH64")


def buffer_sizes(lines: list[str]) -> dict[str, int]:
    """Return the bytes of each "host|device model|KV|compute|output" buffer a load logged."""
    sizes = {
        f"{where} {kind}": 0 for where in ("host", "device") for kind in ("model", "KV", "compute", "output")
    }
    for match in _BUFFER_LINE.finditer("".join(lines)):
        buffer_type, kind, mib = match.group(2), match.group(3), float(match.group(4))
        # CUDA_Host / Metal host buffers live in RAM too.
        host = buffer_type in _HOST_BUFFERS or buffer_type.endswith("_Host")
        sizes[f"{'host' if host else 'device'} {kind}"] += int(mib * 1024 * 1024)
    return sizes
