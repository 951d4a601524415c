"""Write files so that a crash leaves either the old version or the new one, never half of each.

Everything the user makes or edgeapp builds (transcripts, settings, measurement caches, derived
quants, downloads) goes through these helpers: a temporary file in the same directory, flushed and
fsynced, then renamed over the target, then the directory fsynced.

A writer killed mid-way (SIGKILL, OOM, power cut) leaves its temporary file behind, never a
half-written target. The temporary file's name carries the writer's pid, so the next write to the
same target removes the ones whose writer is gone: a killed quantization does not leave hundreds
of MB in the cache for ever.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename is durable only once its directory is)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _writer_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, someone else's
        return False
    # A killed writer whose parent died too may linger as a zombie until init reaps it.
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def remove_dead_writers_temp_files(target: str | os.PathLike[str]) -> list[Path]:
    """Remove (and return) temporary files beside `target` left by writers that no longer run."""
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[A-Za-z0-9_]+\.(?:tmp|part|sparse)")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            match = pattern.fullmatch(entry.name)
            if match and int(match.group(1)) != os.getpid() and _writer_is_gone(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`.

    For writers that need a path rather than a file object (llama.cpp's quantizer). On an
    exception the temporary file is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_writers_temp_files(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Replace `target` with `data` atomically."""
    with atomic_path(target, suffix=".tmp") as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Replace `target` with `text` (UTF-8) atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], value: Any) -> None:
    """Replace `target` with `value` as indented JSON atomically."""
    atomic_write_text(target, json.dumps(value, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    """Return the JSON in `path`, or `default` if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, IsADirectoryError):
        return default
