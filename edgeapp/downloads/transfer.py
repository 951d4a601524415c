"""Resumable ranged GETs into `<blob>.incomplete`: append from where the file stops, hash as it goes.

huggingface_hub's own download writes a fresh per-process temp file and deletes it on failure, so a
killed download restarts from byte 0; here the partial file is the state, and any run picks it up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from edgeapp.downloads.errors import (
    DownloadCancelled,
    DownloadInterrupted,
    HubRequestFailed,
    stopped_message,
)
from edgeapp.downloads.verify import StreamHasher

# Waits between attempts after a dropped connection; the count is how many retries a run makes
# without receiving a byte (any progress resets it). Tests shorten it.
RETRY_BACKOFF_S: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)


class _Retry(Exception):
    """This attempt failed in a way the next one may not (dropped, short, 5xx)."""


def _timeout():
    import httpx2

    return httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)


def _content_range_start(value: str | None) -> int | None:
    # "bytes 1000-1999/5000"
    try:
        return int(value.split()[1].split("-")[0]) if value else None
    except (IndexError, ValueError):
        return None


def _one_attempt(
    url: str,
    headers: dict[str, str],
    out: BinaryIO,
    total_bytes: int,
    hasher: StreamHasher,
    on_bytes: Callable[[int], None],
    on_reset: Callable[[], None],
    cancelled: Callable[[], bool],
) -> int:
    """Append what the server sends from the current end of `out`; return the bytes received."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import get_session, hf_raise_for_status

    offset = out.tell()
    request = {**headers, "Range": f"bytes={offset}-", "Accept-Encoding": "identity"}
    received = 0
    try:
        with get_session().stream("GET", url, headers=request, timeout=_timeout()) as response:
            if response.status_code in _RETRY_STATUS:
                raise _Retry(f"HTTP {response.status_code}")
            hf_raise_for_status(response)
            start = _content_range_start(response.headers.get("Content-Range"))
            if response.status_code == 200 and offset:
                # The server ignored the Range and sends the whole file: start the file over.
                out.seek(0)
                out.truncate()
                hasher.reset()
                on_reset()
            elif response.status_code != 200 and start != offset:
                raise _Retry(f"the server answered from byte {start}, asked for {offset}")
            for chunk in response.iter_bytes():
                if cancelled():
                    return received
                if out.tell() + len(chunk) > total_bytes:
                    raise HubRequestFailed(f"{url} sent more than the announced {total_bytes} bytes")
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                on_bytes(len(chunk))
    except httpx2.TransportError as error:
        out.flush()
        raise _Retry(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__) from error
    except HfHubHTTPError:
        out.flush()
        raise
    out.flush()
    if not cancelled() and out.tell() < total_bytes:
        raise _Retry(f"connection closed at byte {out.tell()} of {total_bytes}")
    return received


def _interrupted(
    label: str, done: int, total: int, partial: Path, failures: int, error: Exception
) -> DownloadInterrupted:
    tail = (
        f"{failures} attempts failed (last: {error}); the {done:,} bytes received are kept in "
        f"{partial}; run the command again to resume"
    )
    return DownloadInterrupted(
        stopped_message("connection lost", label, done, total, tail), done, total, partial
    )


def fetch_resumable(
    url: str,
    partial: Path,
    *,
    total_bytes: int,
    headers: dict[str, str],
    hasher: StreamHasher,
    on_bytes: Callable[[int], None],
    cancel: threading.Event | None,
    label: str,
    on_reset: Callable[[], None] = lambda: None,
) -> int:
    """Fill `partial` up to `total_bytes`, resuming from its current size; return the bytes fetched.

    `on_reset` is called when the server ignores the Range and the file starts over from byte 0.
    The caller hashes nothing: the existing prefix is re-hashed here before appending, so `hasher`
    ends up covering the whole file. Raises DownloadCancelled when `cancel` is set and
    DownloadInterrupted after RETRY_BACKOFF_S retries without progress; both keep the partial file.
    """
    partial.parent.mkdir(parents=True, exist_ok=True)
    received = [0]
    failures = 0
    cancelled = cancel.is_set if cancel is not None else (lambda: False)
    pause = cancel.wait if cancel is not None else threading.Event().wait

    def count(n: int) -> None:
        received[0] += n
        on_bytes(n)

    with open(partial, "ab") as out:
        if out.tell() > total_bytes:
            out.seek(0)
            out.truncate()
        hasher.reset()
        hasher.update_from_file(partial, out.tell())
        while out.tell() < total_bytes:
            if cancelled():
                raise DownloadCancelled(
                    stopped_message("cancelled", label, out.tell(), total_bytes, "run again to resume"),
                    out.tell(),
                    total_bytes,
                    partial,
                )
            before = received[0]
            try:
                _one_attempt(url, headers, out, total_bytes, hasher, count, on_reset, cancelled)
            except _Retry as error:
                # A dropped connection after progress is retried at once; only attempts that
                # bring nothing count against the limit.
                failures = 0 if received[0] > before else failures + 1
                if failures > len(RETRY_BACKOFF_S):
                    raise _interrupted(label, out.tell(), total_bytes, partial, failures, error) from error
                if failures:
                    pause(RETRY_BACKOFF_S[failures - 1])
    return received[0]


def fetch_range(url: str, start: int, end_inclusive: int, headers: dict[str, str]) -> bytes:
    """Return bytes start..end_inclusive of `url` with one Range request (fewer if the file ends).

    A server that ignores Range gets its response cut off once the wanted bytes have arrived, so
    a header check never pulls a whole model.
    """
    from huggingface_hub.utils import get_session, hf_raise_for_status

    request = {**headers, "Range": f"bytes={start}-{end_inclusive}", "Accept-Encoding": "identity"}
    wanted = end_inclusive + 1 - start
    parts: list[bytes] = []
    have = 0
    with get_session().stream("GET", url, headers=request, timeout=_timeout()) as response:
        hf_raise_for_status(response)
        skip = start if response.status_code == 200 else 0
        for chunk in response.iter_bytes():
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            parts.append(chunk[: wanted - have])
            have += len(parts[-1])
            if have >= wanted:
                break
    return b"".join(parts)
