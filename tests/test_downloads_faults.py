"""Downloads that go wrong on the way: dropped connections, a killed process, cancel from another
thread, a server that ignores Range, and a full disk. The fake hub is a real HTTP server; nothing on
the download path is mocked (only the free-space reading, in one test, as the brief allows)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from huggingface_hub import constants, scan_cache_dir

from edgeapp.downloads import (
    DiskSpaceShort,
    DownloadCancelled,
    DownloadInterrupted,
    cached_file,
    download,
    download_file,
    space,
)
from edgeapp.downloads import cache as cache_layout
from tests.hubserver import FULL_NAME, REPO, SMALL_NAME

MiB = 1024 * 1024


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _partial(hub_env, name: str) -> Path:
    return cache_layout.incomplete_path(REPO, hub_env.hub.file(REPO, name).sha256)


def test_connection_dropped_mid_body_is_resumed_within_the_run(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    item = hub_env.hub.file(REPO, SMALL_NAME)
    item.drop_after_bytes, item.drops_left = 2 * MiB, 1

    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    gets = [r for r in hub_env.hub.requests() if r.server == "cdn" and r.method == "GET"]
    assert [r.range for r in gets] == ["bytes=0-", f"bytes={2 * MiB}-"]
    assert hub_env.hub.body_bytes_sent(SMALL_NAME) == item.size_bytes  # nothing fetched twice
    assert result.verified and _sha256(result.path) == item.sha256


def test_connection_that_keeps_failing_gives_up_and_keeps_progress_for_the_next_run(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    item = hub_env.hub.file(REPO, SMALL_NAME)
    item.throttle_bytes_per_s = 8 * MiB

    def network_dies(report) -> None:
        if report.downloaded_bytes >= MiB:
            item.drop_after_bytes = 0  # this response and every later one end at once

    with pytest.raises(DownloadInterrupted) as caught:
        download(REPO, SMALL_NAME, progress=network_dies, min_free_margin_bytes=0)

    kept = _partial(hub_env, SMALL_NAME).stat().st_size
    assert MiB <= kept == caught.value.downloaded_bytes < item.size_bytes
    assert "connection lost at" in str(caught.value) and "run the command again to resume" in str(
        caught.value
    )
    assert cached_file(REPO, SMALL_NAME) is None

    item.drop_after_bytes, item.throttle_bytes_per_s = None, None
    mark = hub_env.hub.mark()
    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert result.resumed_from_bytes == kept
    assert hub_env.hub.body_bytes_sent(SMALL_NAME, since=mark) == item.size_bytes - kept < item.size_bytes
    assert result.verified and _sha256(result.path) == item.sha256
    assert not scan_cache_dir(hub_env.cache_dir).incomplete_files


def test_killed_download_resumes_where_it_stopped(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    item = hub_env.hub.file(REPO, SMALL_NAME)
    item.throttle_bytes_per_s = 2 * MiB
    partial = _partial(hub_env, SMALL_NAME)
    code = f"from edgeapp.downloads import download_file; download_file({REPO!r}, {SMALL_NAME!r}, min_free_margin_bytes=0)"
    child = subprocess.Popen([sys.executable, "-c", code], env=hub_env.env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (partial.is_file() and partial.stat().st_size >= MiB):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never got 1 MiB into the download"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    kept = partial.stat().st_size
    assert child.returncode == -signal.SIGKILL and MiB <= kept < item.size_bytes

    item.throttle_bytes_per_s = None
    mark = hub_env.hub.mark()
    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert result.resumed_from_bytes == kept
    assert hub_env.hub.body_bytes_sent(SMALL_NAME, since=mark) == item.size_bytes - kept < item.size_bytes
    assert result.verified and _sha256(result.path) == item.sha256
    assert not partial.exists()


def test_cancel_from_another_thread_stops_a_slow_download_and_keeps_it_resumable(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    item = hub_env.hub.file(REPO, SMALL_NAME)
    item.throttle_bytes_per_s = MiB  # six seconds for the whole file
    cancel, started = threading.Event(), threading.Event()
    outcome: list[BaseException] = []

    def on_progress(report) -> None:
        if report.downloaded_bytes >= 256 * 1024:
            started.set()

    def worker() -> None:
        try:
            download(REPO, SMALL_NAME, progress=on_progress, cancel=cancel, min_free_margin_bytes=0)
        except BaseException as error:  # noqa: BLE001  (handed to the test thread)
            outcome.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(timeout=30)
    cancel.set()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], DownloadCancelled), outcome
    error = outcome[0]
    assert "cancelled at" in str(error) and "%" in str(error) and "run again to resume" in str(error)
    assert 0 < error.downloaded_bytes == _partial(hub_env, SMALL_NAME).stat().st_size < item.size_bytes
    assert cached_file(REPO, SMALL_NAME) is None

    item.throttle_bytes_per_s = None
    mark = hub_env.hub.mark()
    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)
    assert result.resumed_from_bytes == error.downloaded_bytes and result.verified
    assert hub_env.hub.body_bytes_sent(SMALL_NAME, since=mark) == item.size_bytes - error.downloaded_bytes


def test_server_that_ignores_range_restarts_the_file_cleanly(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    item = hub_env.hub.file(REPO, SMALL_NAME)
    partial = _partial(hub_env, SMALL_NAME)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\0" * MiB)  # a prefix that would fail the sha256 if it were kept
    item.ignore_range = True

    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert result.verified and _sha256(result.path) == item.sha256
    assert hub_env.hub.body_bytes_sent(SMALL_NAME) == item.size_bytes


def test_not_enough_disk_space_stops_before_any_transfer(hub_env, gguf_files, monkeypatch):
    hub_env.hub.add_repo(REPO, {FULL_NAME: gguf_files.full})
    size = gguf_files.full.stat().st_size
    monkeypatch.setattr(space, "free_bytes", lambda path: size + 100 * MiB)

    with pytest.raises(DiskSpaceShort) as caught:
        download_file(REPO, FULL_NAME)  # default margin: 512 MiB

    error = caught.value
    assert error.needed_bytes == size and error.free_bytes == size + 100 * MiB
    assert error.margin_bytes == space.DEFAULT_MARGIN_BYTES
    assert str(hub_env.cache_dir) in error.path and "not enough disk space" in str(error)
    assert hub_env.hub.body_bytes_sent(FULL_NAME) == 0
    assert download_file(REPO, FULL_NAME, min_free_margin_bytes=50 * MiB).is_file()


def test_disk_check_counts_only_the_bytes_still_missing(hub_env, gguf_files, monkeypatch):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    item = hub_env.hub.file(REPO, SMALL_NAME)
    partial = _partial(hub_env, SMALL_NAME)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(gguf_files.small.read_bytes()[: 4 * MiB])
    monkeypatch.setattr(space, "free_bytes", lambda path: item.size_bytes - 4 * MiB)

    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert result.resumed_from_bytes == 4 * MiB and result.verified
    assert hub_env.hub.body_bytes_sent(SMALL_NAME) == item.size_bytes - 4 * MiB


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); the patched test covers it"
        )
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_real_small_filesystem_refuses_a_file_that_does_not_fit(
    hub_env, gguf_files, small_tmpfs, monkeypatch
):
    hub_env.hub.add_repo(REPO, {FULL_NAME: gguf_files.full, SMALL_NAME: gguf_files.small})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(small_tmpfs / "hub"))

    with pytest.raises(DiskSpaceShort) as caught:
        download_file(REPO, FULL_NAME, min_free_margin_bytes=0)  # 98 MB into 32 MB

    assert caught.value.free_bytes <= 32 * MiB < caught.value.needed_bytes
    assert hub_env.hub.body_bytes_sent(FULL_NAME) == 0
    path = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    assert Path(os.path.realpath(path)).is_relative_to(small_tmpfs)


def test_disk_filled_by_someone_else_mid_download_keeps_the_partial(
    hub_env, gguf_files, small_tmpfs, monkeypatch
):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(small_tmpfs / "hub"))
    filler = small_tmpfs / "filler"

    def fill_the_disk(report) -> None:
        if not filler.exists():
            with open(filler, "wb") as handle:
                handle.write(b"\0" * space.free_bytes(small_tmpfs))

    with pytest.raises(DiskSpaceShort) as caught:
        download(REPO, SMALL_NAME, progress=fill_the_disk, min_free_margin_bytes=0)

    assert caught.value.free_bytes < caught.value.needed_bytes
    assert cached_file(REPO, SMALL_NAME) is None
    kept = cache_layout.incomplete_path(REPO, hub_env.hub.file(REPO, SMALL_NAME).sha256).stat().st_size
    filler.unlink()
    result = download(REPO, SMALL_NAME, min_free_margin_bytes=0)
    assert result.resumed_from_bytes == kept and result.verified
