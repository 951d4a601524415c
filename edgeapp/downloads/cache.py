"""The Hugging Face cache layout, read and written the way huggingface_hub does it.

    <HF_HUB_CACHE>/models--owner--name/
        blobs/<etag>                      the file; <etag>.incomplete while downloading
        snapshots/<commit>/<filename>  -> ../../blobs/<etag>   (a copy where symlinks are refused)
        refs/<revision>                   the commit a branch or tag pointed at
        .edgeapp/<etag>.json              ours: what was verified, so checks need not re-hash
    <HF_HUB_CACHE>/.locks/models--owner--name/<etag>.lock   the lock huggingface_hub also takes

So `hf_hub_download(..., local_files_only=True)`, `try_to_load_from_cache` and `scan_cache_dir`
see edgeapp's downloads, and edgeapp sees theirs. Reading the cache needs no network.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import constants

from edgeapp.atomic import atomic_write_json, atomic_write_text, read_json

_REGEX_COMMIT = re.compile(r"[0-9a-f]{40}")
_REGEX_SHA256 = re.compile(r"[0-9a-f]{64}")
RECORDS_DIR = ".edgeapp"


@dataclass(frozen=True)
class CachedFile:
    """A file in the HF cache. `verified`: its hash and GGUF header were checked by edgeapp."""

    repo: str
    filename: str
    commit: str
    path: Path
    size_bytes: int
    sha256: str | None
    verified: bool

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "path": str(self.path)}


def hub_cache_dir() -> Path:
    """Return the hub cache directory (HF_HUB_CACHE, else HF_HOME/hub, read by huggingface_hub)."""
    return Path(constants.HF_HUB_CACHE).expanduser()


def repo_dir(repo: str) -> Path:
    """Return the cache folder of a model repo (models--owner--name)."""
    return hub_cache_dir() / ("models--" + repo.replace("/", "--"))


def repo_from_dir(name: str) -> str | None:
    """Return owner/name for a models--owner--name folder, None for anything else."""
    if not name.startswith("models--"):
        return None
    return name[len("models--") :].replace("--", "/")


def blob_path(repo: str, etag: str) -> Path:
    return repo_dir(repo) / "blobs" / etag


def incomplete_path(repo: str, etag: str) -> Path:
    """Return where a partial download of a blob lives between runs."""
    return repo_dir(repo) / "blobs" / f"{etag}.incomplete"


def lock_path(repo: str, etag: str) -> Path:
    """Return huggingface_hub's lock file for a blob, so its downloads and ours exclude each other."""
    return hub_cache_dir() / ".locks" / repo_dir(repo).name / f"{etag}.lock"


def pointer_path(repo: str, commit: str, filename: str) -> Path:
    return repo_dir(repo) / "snapshots" / commit / Path(*filename.split("/"))


def record_path(repo: str, etag: str) -> Path:
    return repo_dir(repo) / RECORDS_DIR / f"{etag}.json"


def read_record(repo: str, etag: str) -> dict[str, Any]:
    """Return what edgeapp noted about a blob (filename, sha256, verification), or {}."""
    value = read_json(record_path(repo, etag), default={})
    return value if isinstance(value, dict) else {}


def write_record(repo: str, etag: str, **fields: Any) -> None:
    """Merge `fields` into a blob's record."""
    atomic_write_json(record_path(repo, etag), {**read_record(repo, etag), **fields})


def mark_verified(repo: str, etag: str, path: Path, sha256: str | None) -> None:
    """Note that `path` (the blob) hashed to `sha256` and has a valid GGUF header, as it is now."""
    stat = path.stat()
    write_record(
        repo, etag, sha256=sha256, size_bytes=stat.st_size, verified_mtime_ns=stat.st_mtime_ns, verified=True
    )


def is_verified(repo: str, etag: str, path: Path) -> bool:
    """Return True if the record says `path` was verified and it has not changed since."""
    record = read_record(repo, etag)
    try:
        stat = path.stat()
    except OSError:
        return False
    return (
        record.get("verified") is True
        and record.get("size_bytes") == stat.st_size
        and record.get("verified_mtime_ns") == stat.st_mtime_ns
    )


def read_ref(repo: str, revision: str) -> str | None:
    """Return the commit a revision points at in the cache (a commit hash is its own answer)."""
    if _REGEX_COMMIT.fullmatch(revision):
        return revision
    try:
        return (repo_dir(repo) / "refs" / revision).read_text().strip() or None
    except OSError:
        return None


def write_ref(repo: str, revision: str, commit: str) -> None:
    """Point refs/<revision> at `commit` (nothing to do when the revision is the commit)."""
    if revision == commit or read_ref(repo, revision) == commit:
        return
    atomic_write_text(repo_dir(repo) / "refs" / revision, commit)


def link_snapshot(repo: str, commit: str, filename: str, etag: str) -> Path:
    """Make snapshots/<commit>/<filename> point at the blob; move it there where symlinks fail."""
    blob = blob_path(repo, etag)
    pointer = pointer_path(repo, commit, filename)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        pointer.unlink()
    if not constants.HF_HUB_DISABLE_SYMLINKS:
        try:
            os.symlink(os.path.relpath(blob, pointer.parent), pointer)
            return pointer
        except OSError:
            pass
    # huggingface_hub does the same for a new blob where symlinks are refused (Windows without
    # developer mode): the snapshot entry becomes the file itself.
    os.replace(blob, pointer)
    return pointer


def etag_of(repo: str, pointer: Path) -> str | None:
    """Return the blob name behind a snapshot entry (from the symlink, or our record for a copy)."""
    if pointer.is_symlink():
        return Path(os.readlink(pointer)).name
    commit = pointer.relative_to(repo_dir(repo) / "snapshots").parts[0]
    filename = pointer.relative_to(repo_dir(repo) / "snapshots" / commit).as_posix()
    for record_file in (repo_dir(repo) / RECORDS_DIR).glob("*.json"):
        record = read_json(record_file, default={}) or {}
        if record.get("filename") == filename and commit in record.get("commits", []):
            return record_file.stem
    return None


def _cached_entry(repo: str, commit: str, pointer: Path) -> CachedFile | None:
    try:
        size = pointer.stat().st_size  # follows the link: a dangling link is not a cached file
    except OSError:
        return None
    etag = etag_of(repo, pointer)
    record = read_record(repo, etag) if etag else {}
    sha256 = record.get("sha256") or (etag if etag and _REGEX_SHA256.fullmatch(etag) else None)
    verified = etag is not None and is_verified(repo, etag, pointer)
    filename = pointer.relative_to(repo_dir(repo) / "snapshots" / commit).as_posix()
    return CachedFile(repo, filename, commit, pointer, size, sha256, verified)


def find_cached(repo: str, filename: str, revision: str = "main") -> CachedFile | None:
    """Return the cached entry for a file at a revision, verified or not; exact name first, then any case."""
    commit = read_ref(repo, revision)
    if commit is None:
        return None
    snapshot = repo_dir(repo) / "snapshots" / commit
    pointer = pointer_path(repo, commit, filename)
    if not os.path.lexists(pointer) and snapshot.is_dir():
        wanted = filename.lower()
        matches = [p for p in snapshot.rglob("*") if p.relative_to(snapshot).as_posix().lower() == wanted]
        pointer = matches[0] if len(matches) == 1 else pointer
    return _cached_entry(repo, commit, pointer) if os.path.lexists(pointer) else None


def cached_file(repo: str, filename: str, revision: str = "main") -> CachedFile | None:
    """Return the cached file if it is complete and verified by edgeapp; None otherwise. No network."""
    entry = find_cached(repo, filename, revision)
    return entry if entry is not None and entry.verified else None


def list_cached() -> list[CachedFile]:
    """Return every GGUF file in the HF cache (all repos, all cached commits), verified or not."""
    root = hub_cache_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        repo = repo_from_dir(folder.name)
        snapshots = folder / "snapshots"
        if repo is None or not snapshots.is_dir():
            continue
        for commit_dir in sorted(snapshots.iterdir()):
            for pointer in sorted(commit_dir.rglob("*.gguf")):
                entry = _cached_entry(repo, commit_dir.name, pointer)
                if entry is not None:
                    found.append(entry)
    return found


@contextlib.contextmanager
def blob_lock(repo: str, etag: str, filename: str):
    """Hold the blob's lock (huggingface_hub's lock file); DownloadLocked if someone else has it."""
    import filelock

    from edgeapp.downloads.errors import DownloadLocked

    path = lock_path(repo, etag)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout as error:
        raise DownloadLocked(repo, filename, path) from error
    try:
        yield
    finally:
        lock.release()


def _etags_for(repo: str, filename: str) -> tuple[list[Path], set[str]]:
    """Return the snapshot entries named `filename` (any case, any commit) and their blobs' etags."""
    snapshots = repo_dir(repo) / "snapshots"
    wanted = filename.lower()
    pointers = [
        p
        for p in (snapshots.glob("*/**/*") if snapshots.is_dir() else [])
        if os.path.lexists(p)
        and not p.is_dir()
        and p.relative_to(snapshots).as_posix().split("/", 1)[-1].lower() == wanted
    ]
    etags = {e for e in (etag_of(repo, p) for p in pointers) if e}
    for record_file in (repo_dir(repo) / RECORDS_DIR).glob("*.json"):
        if str((read_json(record_file, default={}) or {}).get("filename", "")).lower() == wanted:
            etags.add(record_file.stem)  # a partial download has a record but no snapshot entry yet
    return pointers, etags


def _unlink_counting(path: Path, counted: bool = True) -> int:
    try:
        size = path.stat().st_size if counted and not path.is_symlink() else 0
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


def _prune(repo: str) -> None:
    """Remove empty snapshot folders, refs to missing commits, and the repo folder once nothing is left.

    A partial download of another file keeps the folder: its progress is worth keeping.
    """
    folder = repo_dir(repo)
    snapshots = folder / "snapshots"
    for directory in sorted(snapshots.glob("**/*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    commits = {p.name for p in snapshots.iterdir()} if snapshots.is_dir() else set()
    for ref in (folder / "refs").glob("**/*") if (folder / "refs").is_dir() else []:
        if ref.is_file() and ref.read_text().strip() not in commits:
            ref.unlink()
    blobs = folder / "blobs"
    if not commits and not (blobs.is_dir() and any(blobs.iterdir())):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def remove_cached(repo: str, filename: str) -> int:
    """Remove a file from the cache (every commit): snapshot entries, their blobs, partial downloads.

    Returns the bytes freed (0 if nothing was cached). Blobs another snapshot entry still uses stay.
    Raises DownloadLocked while a download of the same blob is running.
    """
    if not repo_dir(repo).is_dir():
        return 0
    pointers, etags = _etags_for(repo, filename)
    freed = 0
    with contextlib.ExitStack() as stack:
        for etag in sorted(etags):
            stack.enter_context(blob_lock(repo, etag, filename))
        for pointer in pointers:
            freed += _unlink_counting(pointer)
        snapshots = repo_dir(repo) / "snapshots"
        still_used = {etag_of(repo, p) for p in snapshots.glob("*/**/*") if p.is_symlink()}
        for etag in etags - still_used:
            blobs = repo_dir(repo) / "blobs"
            freed += _unlink_counting(blobs / etag)
            for partial in blobs.glob(f"{glob_escape(etag)}*.incomplete"):
                freed += _unlink_counting(partial)
            _unlink_counting(record_path(repo, etag), counted=False)
    _prune(repo)
    return freed


def glob_escape(text: str) -> str:
    """Return `text` with glob wildcards escaped (etags are hex, but a mirror could send anything)."""
    import glob

    return glob.escape(text)
