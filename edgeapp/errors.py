"""Errors a user can act on. Each message says what happened and, where it helps, what to do.

The CLI prints `str(error)` on one line and exits 1 for any `EdgeappError`; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class EdgeappError(Exception):
    """Base class for failures caused by input, environment or resources, not by bugs."""


class UsageError(EdgeappError):
    """The command line or a reference does not make sense (exit code 2)."""


class ModelNotFound(EdgeappError):
    """A model reference names no catalog entry, quant, or file."""


class CorruptModelFile(EdgeappError):
    """A file is not a usable GGUF: truncated, damaged, hostile or not GGUF at all."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path} is not a usable GGUF file: {reason}")


class CatalogError(EdgeappError):
    """A catalog file is malformed; names the file, the entry and the field."""

    def __init__(self, file: object, entry: str | None, field: str | None, problem: str) -> None:
        self.file = str(file)
        self.entry = entry
        self.field = field
        self.problem = problem
        where = self.file
        if entry:
            where += f": [models.{entry}]" if field is None else f": [models.{entry}] {field}"
        elif field:
            where += f": {field}"
        super().__init__(f"{where}: {problem}")


class ModelTooLarge(EdgeappError):
    """The estimate says the model will not fit; carries the numbers."""

    def __init__(self, message: str, needed_bytes: int = 0, available_bytes: int = 0) -> None:
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        super().__init__(message)


class EngineError(EdgeappError):
    """The inference engine reported a failure (load failed, decode failed, ...)."""


class EngineCrashed(EngineError):
    """The engine process died (native crash, OOM kill, SIGKILL)."""

    def __init__(self, message: str, exitcode: int | None = None) -> None:
        self.exitcode = exitcode
        super().__init__(message)


class DownloadError(EdgeappError):
    """A download failed; the message says why and what to do."""


class DownloadIncomplete(DownloadError):
    """A download stopped before the end; it can be resumed."""


class ChecksumMismatch(DownloadError):
    """A downloaded file does not match the sha256 the hub announced; it was removed."""


class NotEnoughDiskSpace(DownloadError):
    """There is not enough free disk space for a download."""


class OfflineError(DownloadError):
    """The model is not cached and the hub cannot be reached (or offline mode is on)."""


def signal_description(exitcode: int | None) -> str:
    """Return a plain description of a child process exit code (negative = killed by a signal)."""
    import signal

    if exitcode is None:
        return "still running"
    if exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    if name == "SIGKILL":
        return "SIGKILL (killed: out of memory, or by hand)"
    if name == "SIGSEGV":
        return "SIGSEGV (native crash in llama.cpp)"
    if name == "SIGABRT":
        return "SIGABRT (llama.cpp aborted)"
    return name
