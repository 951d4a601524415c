"""Download one file from the hub into the HF cache: resume, hash, validate, then publish atomically.

A file becomes visible (blob, snapshot link, ref) only after its sha256 and GGUF header passed, so
the runner never picks up half a file; until then it is `blobs/<etag>.incomplete`, which the next
run resumes.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgeapp.atomic import fsync_directory
from edgeapp.downloads import cache, space
from edgeapp.downloads.errors import (
    ChecksumFailed,
    DiskSpaceShort,
    HubRequestFailed,
    HubUnavailable,
    RepoGated,
)
from edgeapp.downloads.hub import RemoteFile, download_headers, hub_errors, resolve_remote_file
from edgeapp.downloads.progress import DownloadProgress, ProgressMeter
from edgeapp.downloads.transfer import fetch_resumable
from edgeapp.downloads.verify import StreamHasher, check_digest, hash_file, validate_gguf_file
from edgeapp.errors import CorruptModelFile, DownloadError

ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class DownloadResult:
    """What `download` did: where the file is, and how many bytes this run fetched."""

    repo: str
    filename: str
    commit: str
    path: Path
    size_bytes: int
    sha256: str | None
    downloaded_bytes: int  # fetched by this run
    resumed_from_bytes: int  # already on disk from an earlier run
    elapsed_s: float
    verified: bool
    from_cache: bool
    requested_filename: str | None = None

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "path": str(self.path)}


def _validate_or_remove(path: Path, label: str) -> None:
    if not label.lower().endswith(".gguf"):
        return
    try:
        validate_gguf_file(path)
    except CorruptModelFile as error:
        path.unlink(missing_ok=True)
        raise CorruptModelFile(label, f"{error.reason}; the download was removed") from error


def _verify_existing(repo: str, etag: str, path: Path, sha256: str | None, label: str) -> bool:
    """Hash a file already in the cache (put there by another tool); True if it matches the hub."""
    git_oid = etag if sha256 is None else None
    if sha256 is None and git_oid is None:
        return False
    try:
        check_digest(repo, label, hash_file(path, path.stat().st_size, git_oid), sha256)
    except ChecksumFailed:
        return False
    _validate_or_remove(path, label)
    cache.mark_verified(repo, etag, path, sha256)
    return True


def _result(entry: cache.CachedFile, started: float, remote: RemoteFile | None) -> DownloadResult:
    return DownloadResult(
        repo=entry.repo,
        filename=entry.filename,
        commit=entry.commit,
        path=entry.path,
        size_bytes=entry.size_bytes,
        sha256=entry.sha256,
        downloaded_bytes=0,
        resumed_from_bytes=0,
        elapsed_s=time.monotonic() - started,
        verified=entry.verified,
        from_cache=True,
        requested_filename=remote.requested_filename if remote else None,
    )


def _from_cache(repo: str, filename: str, revision: str, error: DownloadError) -> cache.CachedFile:
    """Return the cached file when the hub cannot be asked, verifying it offline if needed; else raise `error`."""
    entry = cache.find_cached(repo, filename, revision)
    if entry is None:
        raise error
    if entry.verified:
        return entry
    etag = cache.etag_of(repo, entry.path)
    # For LFS files the blob's name is its sha256 (entry.sha256 falls back to it), so a file another
    # tool downloaded can be checked without the hub.
    if etag and _verify_existing(repo, etag, entry.path, entry.sha256, entry.filename):
        return cache.find_cached(repo, entry.filename, entry.commit) or entry
    raise error


def _reuse_cached(remote: RemoteFile, revision: str) -> cache.CachedFile | None:
    """Return the file if this commit's copy, or the same blob, is already cached and checks out.

    A blob another tool downloaded is hashed once against the hub's sha256; a bad one is removed.
    """
    repo, etag = remote.repo, remote.etag
    entry = cache.find_cached(repo, remote.filename, remote.commit)
    if entry is None or not entry.verified:
        blob = cache.blob_path(repo, etag)
        on_disk = blob if blob.is_file() else (entry.path if entry is not None else None)
        if on_disk is None:
            return None
        if not cache.is_verified(repo, etag, on_disk) and not _verify_existing(
            repo, etag, on_disk, remote.sha256, remote.filename
        ):
            on_disk.unlink(missing_ok=True)
            if entry is not None:
                entry.path.unlink(missing_ok=True)
            return None
        if on_disk == blob:
            cache.link_snapshot(repo, remote.commit, remote.filename, etag)
    cache.write_ref(repo, revision, remote.commit)
    entry = cache.find_cached(repo, remote.filename, remote.commit)
    return entry if entry is not None and entry.verified else None


def _fetch_and_publish(
    remote: RemoteFile,
    revision: str,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    margin_bytes: int | None,
    token: str | bool | None,
) -> tuple[int, int]:
    """Download into `<blob>.incomplete`, verify, publish; return (bytes fetched, resumed from)."""
    repo, etag = remote.repo, remote.etag
    partial = cache.incomplete_path(repo, etag)
    resumed_from = partial.stat().st_size if partial.is_file() else 0
    resumed_from = resumed_from if resumed_from <= remote.size_bytes else 0
    space.check_free_space(partial.parent, remote.size_bytes - resumed_from, margin_bytes)
    record = cache.read_record(repo, etag)
    commits = sorted(set(record.get("commits", [])) | {remote.commit})
    cache.write_record(repo, etag, filename=remote.filename, sha256=remote.sha256, commits=commits)

    meter = ProgressMeter(remote.filename, remote.size_bytes, resumed_from, progress)
    hasher = StreamHasher(remote.size_bytes, git_oid=etag if remote.sha256 is None else None)
    try:
        with hub_errors(repo, remote.filename, revision, token):
            fetched = fetch_resumable(
                remote.url,
                partial,
                total_bytes=remote.size_bytes,
                headers=download_headers(remote.url, token),
                hasher=hasher,
                on_bytes=meter.add,
                on_reset=lambda: meter.restart(0),
                cancel=cancel,
                label=f"{repo}/{remote.filename}",
            )
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        # Something else filled the disk since the check; what was written is kept for a resume.
        missing = remote.size_bytes - partial.stat().st_size
        raise DiskSpaceShort(missing, space.free_bytes(partial.parent), 0, partial.parent) from error
    try:
        sha256 = check_digest(repo, remote.filename, hasher, remote.sha256)
        _validate_or_remove(partial, remote.filename)
    except (ChecksumFailed, CorruptModelFile):
        partial.unlink(missing_ok=True)
        cache.record_path(repo, etag).unlink(missing_ok=True)
        raise
    blob = cache.blob_path(repo, etag)
    os.replace(partial, blob)
    fsync_directory(blob.parent)
    cache.mark_verified(repo, etag, blob, sha256)
    cache.link_snapshot(repo, remote.commit, remote.filename, etag)
    cache.write_ref(repo, revision, remote.commit)
    meter.emit()
    return fetched, resumed_from


def download(
    repo: str,
    filename: str,
    *,
    revision: str = "main",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    min_free_margin_bytes: int | None = None,
    token: str | bool | None = None,
) -> DownloadResult:
    """Return the verified cached file, downloading (or resuming) it first if needed.

    Offline (HF_HUB_OFFLINE=1 or no network) a cached copy is returned; a missing one raises
    HubUnavailable. Other errors: RepoGated, RemoteNotFound, DiskSpaceShort, ChecksumFailed,
    DownloadCancelled, DownloadInterrupted, DownloadLocked, CorruptModelFile.
    """
    started = time.monotonic()
    try:
        remote = resolve_remote_file(repo, filename, revision, token)
    except (HubUnavailable, HubRequestFailed, RepoGated) as error:
        # As huggingface_hub does: when the hub cannot answer (or no longer lets us in), a copy
        # already in the cache is still good.
        return _result(_from_cache(repo, filename, revision, error), started, None)
    with cache.blob_lock(repo, remote.etag, remote.filename):
        entry = _reuse_cached(remote, revision)
        if entry is not None:
            if progress is not None:
                progress(DownloadProgress(entry.filename, entry.size_bytes, entry.size_bytes, 0, 0.0, 0.0))
            return _result(entry, started, remote)
        fetched, resumed_from = _fetch_and_publish(
            remote, revision, progress, cancel, min_free_margin_bytes, token
        )
    entry = cache.find_cached(repo, remote.filename, remote.commit)
    if entry is None or not entry.verified:
        raise DownloadError(
            f"{repo}/{remote.filename} was removed from the cache while it was being saved; run again"
        )
    return DownloadResult(
        repo=repo,
        filename=entry.filename,
        commit=entry.commit,
        path=entry.path,
        size_bytes=entry.size_bytes,
        sha256=entry.sha256,
        downloaded_bytes=fetched,
        resumed_from_bytes=resumed_from,
        elapsed_s=time.monotonic() - started,
        verified=True,
        from_cache=False,
        requested_filename=remote.requested_filename,
    )


def download_file(
    repo: str,
    filename: str,
    *,
    revision: str = "main",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    min_free_margin_bytes: int | None = None,
    token: str | bool | None = None,
) -> Path:
    """Return the path of the verified snapshot file, downloading or resuming it first if needed."""
    return download(
        repo,
        filename,
        revision=revision,
        progress=progress,
        cancel=cancel,
        min_free_margin_bytes=min_free_margin_bytes,
        token=token,
    ).path
