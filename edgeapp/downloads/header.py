"""Header-only fit checks: read a remote GGUF's header with Range requests, never its weights.

The estimator needs exact tensor sizes before a multi-gigabyte download; the header (vocabulary,
metadata, tensor table) is 1-8 MB at the front of the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeapp.downloads.errors import HubRequestFailed, RemoteHeaderTooLarge
from edgeapp.downloads.hub import RemoteFile, download_headers, hub_errors, resolve_remote_file
from edgeapp.downloads.transfer import fetch_range

if TYPE_CHECKING:
    from edgeapp.gguf_file import GgufHeader

FIRST_RANGE_BYTES = 2 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024 * 1024


def fetch_header_of(remote: RemoteFile, token: str | bool | None = None) -> tuple[GgufHeader, int]:
    """Return the parsed header of a resolved remote file and the bytes read to get it."""
    from edgeapp.gguf_file import HeaderIncomplete, parse_header

    label = f"{remote.repo}/{remote.filename}"
    headers = download_headers(remote.url, token)
    data = bytearray()
    want = min(FIRST_RANGE_BYTES, remote.size_bytes)
    while True:
        with hub_errors(remote.repo, remote.filename, remote.revision, token):
            got = fetch_range(remote.url, len(data), want - 1, headers)
        if not got:
            raise HubRequestFailed(f"{remote.url} returned no bytes for a Range request at {len(data):,}")
        data += got
        try:
            return parse_header(bytes(data), remote.size_bytes, label), len(data)
        except HeaderIncomplete as more:
            if more.needed_bytes > MAX_HEADER_BYTES:
                raise RemoteHeaderTooLarge(
                    f"{label}: its GGUF header needs more than {more.needed_bytes:,} bytes, past the "
                    f"{MAX_HEADER_BYTES:,}-byte limit of a header-only check; estimate from the "
                    "catalog, or download it (`edgeapp pull REF`) and check the file"
                ) from None
            if len(data) >= remote.size_bytes:
                raise
            # needed_bytes only reaches the next item; doubling keeps the round trips to a few.
            want = min(max(more.needed_bytes, 2 * len(data)), MAX_HEADER_BYTES, remote.size_bytes)


def fetch_remote_header(
    repo: str, filename: str, revision: str = "main", token: str | bool | None = None
) -> tuple[GgufHeader, int]:
    """Return the GGUF header of a file on the hub and the number of bytes read to get it.

    Starts with a 2 MiB Range request and grows while the header goes on; raises
    RemoteHeaderTooLarge past 64 MiB, CorruptModelFile for a damaged header, and the errors of
    `resolve_remote_file`.
    """
    return fetch_header_of(resolve_remote_file(repo, filename, revision, token), token)
