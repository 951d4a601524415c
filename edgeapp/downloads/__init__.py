"""Model downloads from the Hugging Face hub into the standard HF cache.

Resume across runs, sha256 and GGUF checks before a file counts, free-space checks, offline mode,
and header-only fit checks. Names load lazily: reading the cache (`cached_file`, `list_cached`)
must not pay for importing huggingface_hub's HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "RemoteFile": "edgeapp.downloads.hub",
    "resolve_remote_file": "edgeapp.downloads.hub",
    "hub_endpoint": "edgeapp.downloads.hub",
    "offline_mode": "edgeapp.downloads.hub",
    "DownloadProgress": "edgeapp.downloads.progress",
    "DownloadResult": "edgeapp.downloads.download",
    "download": "edgeapp.downloads.download",
    "download_file": "edgeapp.downloads.download",
    "CachedFile": "edgeapp.downloads.cache",
    "cached_file": "edgeapp.downloads.cache",
    "find_cached": "edgeapp.downloads.cache",
    "list_cached": "edgeapp.downloads.cache",
    "remove_cached": "edgeapp.downloads.cache",
    "hub_cache_dir": "edgeapp.downloads.cache",
    "fetch_remote_header": "edgeapp.downloads.header",
    "free_bytes": "edgeapp.downloads.space",
    "DEFAULT_MARGIN_BYTES": "edgeapp.downloads.space",
    "RepoGated": "edgeapp.downloads.errors",
    "RemoteNotFound": "edgeapp.downloads.errors",
    "HubUnavailable": "edgeapp.downloads.errors",
    "HubRequestFailed": "edgeapp.downloads.errors",
    "DiskSpaceShort": "edgeapp.downloads.errors",
    "ChecksumFailed": "edgeapp.downloads.errors",
    "DownloadStopped": "edgeapp.downloads.errors",
    "DownloadCancelled": "edgeapp.downloads.errors",
    "DownloadInterrupted": "edgeapp.downloads.errors",
    "DownloadLocked": "edgeapp.downloads.errors",
    "RemoteHeaderTooLarge": "edgeapp.downloads.errors",
}

__all__ = [
    "CachedFile",
    "ChecksumFailed",
    "DEFAULT_MARGIN_BYTES",
    "DiskSpaceShort",
    "DownloadCancelled",
    "DownloadInterrupted",
    "DownloadLocked",
    "DownloadProgress",
    "DownloadResult",
    "DownloadStopped",
    "HubRequestFailed",
    "HubUnavailable",
    "RemoteFile",
    "RemoteHeaderTooLarge",
    "RemoteNotFound",
    "RepoGated",
    "cached_file",
    "download",
    "download_file",
    "fetch_remote_header",
    "find_cached",
    "free_bytes",
    "hub_cache_dir",
    "hub_endpoint",
    "list_cached",
    "offline_mode",
    "remove_cached",
    "resolve_remote_file",
]

if TYPE_CHECKING:
    from edgeapp.downloads.cache import (
        CachedFile,
        cached_file,
        find_cached,
        hub_cache_dir,
        list_cached,
        remove_cached,
    )
    from edgeapp.downloads.download import DownloadResult, download, download_file
    from edgeapp.downloads.errors import (
        ChecksumFailed,
        DiskSpaceShort,
        DownloadCancelled,
        DownloadInterrupted,
        DownloadLocked,
        DownloadStopped,
        HubRequestFailed,
        HubUnavailable,
        RemoteHeaderTooLarge,
        RemoteNotFound,
        RepoGated,
    )
    from edgeapp.downloads.header import fetch_remote_header
    from edgeapp.downloads.hub import RemoteFile, hub_endpoint, offline_mode, resolve_remote_file
    from edgeapp.downloads.progress import DownloadProgress
    from edgeapp.downloads.space import DEFAULT_MARGIN_BYTES, free_bytes


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeapp.downloads' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
