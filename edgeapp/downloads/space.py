"""Free-space checks before a download: the bytes still to fetch plus a margin must fit."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgeapp.downloads.errors import DiskSpaceShort

# Leave room for the OS, logs and the next pip install: a disk filled to the last byte breaks more
# than the download.
DEFAULT_MARGIN_BYTES = 512 * 1024 * 1024


def free_bytes(path: str | Path) -> int:
    """Return the free bytes on the filesystem holding `path` (its nearest existing parent).

    Module-level on purpose: tests replace it to simulate a full disk.
    """
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_free_space(path: str | Path, needed_bytes: int, margin_bytes: int | None = None) -> int:
    """Return the free bytes at `path`; raise DiskSpaceShort if `needed_bytes` + margin do not fit."""
    margin = DEFAULT_MARGIN_BYTES if margin_bytes is None else margin_bytes
    available = free_bytes(path)
    if needed_bytes + margin > available:
        raise DiskSpaceShort(needed_bytes, available, margin, path)
    return available
