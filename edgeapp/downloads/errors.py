"""Download errors with the numbers and the next step a user (or the TUI) needs.

Each class subclasses the matching base in edgeapp.errors, so `except DownloadError` catches them all
and the CLI prints any of them on one line.
"""

from __future__ import annotations

from edgeapp.errors import (
    ChecksumMismatch,
    DownloadError,
    DownloadIncomplete,
    NotEnoughDiskSpace,
    OfflineError,
)


def _size(n: int | None) -> str:
    from edgeapp.units import format_bytes

    return format_bytes(n)


class RepoGated(DownloadError):
    """The repo is gated and the request had no token, or one without access."""

    def __init__(self, repo: str, endpoint: str, has_token: bool) -> None:
        self.repo = repo
        self.endpoint = endpoint
        self.has_token = has_token
        how = "your token has no access yet: accept its licence" if has_token else "accept its licence"
        super().__init__(
            f"repo {repo} is gated: {how} at {endpoint}/{repo} and set HF_TOKEN "
            "(or run `huggingface-cli login`)"
        )


class RemoteNotFound(DownloadError):
    """The repo, revision or file does not exist on the hub; lists the GGUF files the repo has."""

    def __init__(self, message: str, repo: str, filename: str | None, files: tuple[str, ...] = ()) -> None:
        self.repo = repo
        self.filename = filename
        self.files = files
        super().__init__(message)


class HubUnavailable(OfflineError):
    """The file is not in the cache and the hub cannot be reached."""

    def __init__(
        self, repo: str, filename: str, ref: str | None, offline_mode: bool, detail: str = ""
    ) -> None:
        self.repo = repo
        self.filename = filename
        self.offline_mode = offline_mode
        self.detail = detail
        why = "offline mode is on (HF_HUB_OFFLINE=1)" if offline_mode else "no network"
        if detail and not offline_mode:
            why += f": {detail}"
        command = f"edgeapp pull {ref}" if ref else "edgeapp pull <catalog-id>:<QUANT>"
        super().__init__(
            f"{repo}/{filename} is not downloaded and the hub cannot be reached ({why}). "
            f"Run `{command}` when online."
        )

    def for_ref(self, ref: str) -> HubUnavailable:
        """Return the same error naming the exact command to run (callers that know the REF)."""
        return HubUnavailable(self.repo, self.filename, ref, self.offline_mode, self.detail)


class HubRequestFailed(DownloadError):
    """The hub answered with an error that is not about access or existence (5xx, 429, ...)."""


class DiskSpaceShort(NotEnoughDiskSpace):
    """Free space on the cache's disk is below what the download needs plus a margin."""

    def __init__(self, needed_bytes: int, free_bytes: int, margin_bytes: int, path: object) -> None:
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes
        self.margin_bytes = margin_bytes
        self.path = str(path)
        super().__init__(
            f"not enough disk space in {self.path}: the download needs {_size(needed_bytes)} "
            f"(+ {_size(margin_bytes)} margin) but {_size(free_bytes)} is free; free some space "
            "(`edgeapp pull --list`, `edgeapp rm REF`) or move the cache with HF_HUB_CACHE/HF_HOME"
        )


class ChecksumFailed(ChecksumMismatch):
    """The downloaded bytes do not hash to what the hub announced; the file was removed."""

    def __init__(self, repo: str, filename: str, algorithm: str, expected: str, actual: str) -> None:
        self.repo = repo
        self.filename = filename
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{repo}/{filename} failed its {algorithm} check (hub says {expected[:16]}…, the download "
            f"hashes to {actual[:16]}…); the file was removed; run the command again to download it afresh"
        )


class DownloadStopped(DownloadIncomplete):
    """A download stopped early (cancelled or connection lost); the partial file is kept for resuming."""

    def __init__(self, message: str, downloaded_bytes: int, total_bytes: int, partial_path: object) -> None:
        self.downloaded_bytes = downloaded_bytes
        self.total_bytes = total_bytes
        self.partial_path = str(partial_path)
        super().__init__(message)


class DownloadCancelled(DownloadStopped):
    """The caller set the cancel event."""


class DownloadInterrupted(DownloadStopped):
    """The connection kept failing after retries."""


class DownloadLocked(DownloadError):
    """Another process (or thread) is writing the same file right now."""

    def __init__(self, repo: str, filename: str, lock_path: object) -> None:
        self.lock_path = str(lock_path)
        super().__init__(
            f"{repo}/{filename} is being downloaded by another edgeapp or huggingface_hub process "
            f"(lock {self.lock_path}); wait for it to finish, or stop it and run the command again"
        )


class RemoteHeaderTooLarge(DownloadError):
    """A remote GGUF header claims more bytes than a header-only fit check will read."""


def stopped_message(verb: str, filename: str, done: int, total: int, tail: str) -> str:
    """Return "cancelled at 37% (1.2 GiB of 3.3 GiB) ..." for a stopped download."""
    percent = int(100 * done / total) if total else 0
    return f"{filename}: {verb} at {percent}% ({_size(done)} of {_size(total)}); {tail}"
