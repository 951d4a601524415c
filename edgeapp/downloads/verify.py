"""Checks a download must pass before it counts: the hub's sha256 (or git blob id) and a GGUF header."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from edgeapp.downloads.errors import ChecksumFailed

_REGEX_GIT_OID = re.compile(r"[0-9a-f]{40}")
_READ_CHUNK_BYTES = 4 * 1024 * 1024


class StreamHasher:
    """Hashes bytes as they arrive: sha256 always, and git's blob id when that is what the hub gives.

    Files stored in git rather than LFS have no sha256 on the hub; their ETag is the git blob id,
    sha1(b"blob <size>\\0" + content), which needs the total size up front.
    """

    def __init__(self, total_bytes: int, git_oid: str | None = None) -> None:
        self.total_bytes = total_bytes
        self.git_oid = git_oid if git_oid and _REGEX_GIT_OID.fullmatch(git_oid) else None
        self.reset()

    def reset(self) -> None:
        """Start over (the server ignored our Range and is sending the file from byte 0)."""
        self.sha256 = hashlib.sha256()
        self.git_sha1 = None
        if self.git_oid:
            self.git_sha1 = hashlib.sha1(usedforsecurity=False)
            self.git_sha1.update(b"blob %d\0" % self.total_bytes)
        self.hashed_bytes = 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        if self.git_sha1 is not None:
            self.git_sha1.update(chunk)
        self.hashed_bytes += len(chunk)

    def update_from_file(self, path: Path, limit_bytes: int | None = None) -> int:
        """Hash the first `limit_bytes` of an existing file (a partial download being resumed)."""
        remaining = limit_bytes
        with open(path, "rb") as handle:
            while remaining is None or remaining > 0:
                size = _READ_CHUNK_BYTES if remaining is None else min(_READ_CHUNK_BYTES, remaining)
                chunk = handle.read(size)
                if not chunk:
                    break
                self.update(chunk)
                if remaining is not None:
                    remaining -= len(chunk)
        return self.hashed_bytes


def check_digest(repo: str, filename: str, hasher: StreamHasher, sha256: str | None) -> str:
    """Return the sha256 of the hashed bytes; raise ChecksumFailed if it (or the git id) disagrees."""
    actual = hasher.sha256.hexdigest()
    if sha256 is not None and actual != sha256.lower():
        raise ChecksumFailed(repo, filename, "sha256", sha256.lower(), actual)
    if sha256 is None and hasher.git_sha1 is not None and hasher.git_oid is not None:
        git_actual = hasher.git_sha1.hexdigest()
        if git_actual != hasher.git_oid:
            raise ChecksumFailed(repo, filename, "git blob id", hasher.git_oid, git_actual)
    return actual


def validate_gguf_file(path: Path) -> None:
    """Raise CorruptModelFile unless `path` has a complete, sane GGUF header that fits the file."""
    from edgeapp.gguf_file import validate_gguf

    validate_gguf(path)


def hash_file(path: Path, total_bytes: int, git_oid: str | None = None) -> StreamHasher:
    """Return a StreamHasher fed with the whole of `path`."""
    hasher = StreamHasher(total_bytes, git_oid)
    hasher.update_from_file(path)
    return hasher
