"""The downloads screen against the fake hub on 127.0.0.1 (tests/hubserver.py): the file's facts
and fit check, a download to 100%, cancel then resume, removal, and each failure as a message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgeapp.cli.output import format_bytes
from edgeapp.downloads import space
from edgeapp.downloads.cache import incomplete_path
from edgeapp.tui.screens.download import DownloadScreen
from edgeapp.tui.widgets.cached_files import CachedFilesTable
from edgeapp.tui.widgets.download_progress import DownloadProgressView
from tests.hubserver import GATED_REPO, REPO, SMALL_NAME
from tests.tui.shell_support import (
    LAPTOP_CPU_BACKEND,
    SIZE,
    device,
    estimate_for,
    make_app,
    private_hf_cache,  # noqa: F401 - autouse fixture
    settle,
    wait_until,
)

MODEL = "smollm2-135m-instruct"
MiB = 1024 * 1024


def _user_catalog(repo: str, quant: str = "Q4_K_M", filename: str = SMALL_NAME) -> None:
    """Move the catalog's SmolLM2 135M entry to `repo` on the fake hub (a user catalog override)."""
    config = Path(os.environ["EDGEAPP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "models.toml").write_text(
        f'version = 1\n\n[models.{MODEL}]\nrepo = "{repo}"\n\n[models.{MODEL}.files]\n{quant} = "{filename}"\n',
        encoding="utf-8",
    )


@pytest.fixture
def hub(hub_env, gguf_files):
    """The fake hub serving the 7 MB two-layer SmolLM2 file as the catalog's Q4_K_M."""
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    _user_catalog(REPO)
    return hub_env.hub


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def _errors(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications if n.severity == "error"]


async def _open(pilot) -> None:
    """Wait for the hub check of the preselected file (size from the hub, then the fit check)."""
    app = pilot.app
    await wait_until(
        pilot, lambda: "fit at" in _text(app, "#dl-fit") or "Offline" in _text(app, "#dl-file"), "the check"
    )


async def _finished(pilot) -> None:
    screen = pilot.app.screen
    await wait_until(
        pilot, lambda: screen._cancel is None and not screen.query_one("#dl-start").disabled, "the end"
    )
    await settle(pilot)


async def test_recommended_file_downloads_to_100_percent_and_is_listed(hub, monkeypatch):
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="downloads")
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot)
        assert app.screen.query_one("#dl-quant").value == "Q4_K_M"  # the picker's choice on a Pi 5
        size = hub.file(REPO, SMALL_NAME).size_bytes
        assert f"{REPO}/{SMALL_NAME}" in _text(app, "#dl-file") and f"{size:,} bytes" in _text(
            app, "#dl-file"
        )
        assert "runs on the CPU" in _text(app, "#dl-fit") and "exact (GGUF header" in _text(app, "#dl-fit")
        await pilot.press("g")
        await _finished(pilot)
        bar = app.screen.query_one(DownloadProgressView).bar
        assert bar.total == size and bar.progress == size and bar.percentage == 1.0
        assert _text(app, "#dl-progress-line").startswith("done: 6.35 MiB · sha256 verified")
        assert not _errors(app)
        listed = app.screen.query_one(CachedFilesTable).files
        assert [(f.repo, f.filename, f.verified) for f in listed.values()] == [(REPO, SMALL_NAME, True)]
        await pilot.press("m")
        await settle(pilot)
        row = app.screen.query_one("#models-table").rows_by_key[MODEL]
        assert row.cells["Q4_K_M"].available  # the models screen marks it downloaded


async def test_cancel_mid_download_then_resume_from_where_it_stopped(hub, monkeypatch):
    item = hub.file(REPO, SMALL_NAME)
    item.throttle_bytes_per_s = 2 * MiB  # about three seconds for the file
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="downloads")
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot)
        view = app.screen.query_one(DownloadProgressView)
        await pilot.click("#dl-start")
        await wait_until(pilot, lambda: (view.bar.progress or 0) >= MiB, "the first MiB")
        await pilot.click("#dl-stop")
        await _finished(pilot)
        stopped_at = view.bar.progress
        assert 0 < stopped_at < item.size_bytes
        assert _text(app, "#dl-error").startswith("Cancelled:") and "resumes it" in _text(app, "#dl-error")
        assert "already here from an earlier try" in _text(app, "#dl-file")
        assert app.screen.query_one(CachedFilesTable).row_count == 0  # a partial file is not a download

        partial = incomplete_path(REPO, item.sha256).stat().st_size  # the blob's etag is its sha256
        assert partial >= stopped_at

        item.throttle_bytes_per_s = None
        mark = hub.mark()
        await pilot.press("g")
        await _finished(pilot)
        assert f"resumed from {format_bytes(partial)}" in _text(app, "#dl-progress-line")
        assert view.bar.progress == item.size_bytes
        ranges = [r.range for r in hub.requests(since=mark) if r.server == "cdn" and r.method == "GET"]
        assert f"bytes={partial}-" in ranges  # the rest only, not the whole file again
        assert "bytes=0-" not in ranges
        assert app.screen.query_one(CachedFilesTable).row_count == 1


async def test_remove_a_downloaded_file_after_confirming(hub, monkeypatch):
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="downloads")
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot)
        await pilot.press("g")
        await _finished(pilot)
        app.screen.query_one(CachedFilesTable).focus()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("n")  # keep it
        await settle(pilot)
        assert app.screen.query_one(CachedFilesTable).row_count == 1
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen.query_one(CachedFilesTable).row_count == 0, "the removal")
        assert any("freed 6.35 MiB" in n.message for n in app._notifications)


async def test_offline_says_what_to_do_and_the_app_stays_up(hub_env, gguf_files, monkeypatch):
    from huggingface_hub import constants

    _user_catalog(REPO)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="downloads")
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot)
        assert "Offline" in _text(app, "#dl-file") and "edgeapp pull" in _text(app, "#dl-file")
        await pilot.press("g")
        await _finished(pilot)
        assert any(e.startswith("Offline:") and "offline mode is on" in e for e in _errors(app))
        assert app.is_running and isinstance(app.screen, DownloadScreen)


async def test_gated_not_found_disk_full_and_checksum_are_explained(hub_env, gguf_files, monkeypatch):
    hub = hub_env.hub
    hub.add_repo(GATED_REPO, {SMALL_NAME: gguf_files.small}, gated=True)
    hub.add_repo(REPO, {SMALL_NAME: gguf_files.small, "other.gguf": gguf_files.small})
    cases = [
        (lambda m: _user_catalog(GATED_REPO), "Q4_K_M", "Gated model (401)", "HF_TOKEN"),
        (lambda m: None, "Q8_0", "Not found on the hub", "GGUF files"),  # the repo has no Q8_0 file
        (lambda m: m.setattr(space, "free_bytes", lambda path: MiB), "Q4_K_M", "Disk full", "free some space"),
        (lambda m: m.setattr(hub.file(REPO, SMALL_NAME), "sha256", "0" * 64), "Q4_K_M", "Checksum mismatch",
         "run the command again"),
    ]  # fmt: skip
    for prepare, quant, title, advice in cases:
        with monkeypatch.context() as patch:
            _user_catalog(REPO)
            prepare(patch)
            app = make_app(estimate_for(patch, device("rpi5-8gb")), start_mode="downloads")
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                app.screen.choose(f"{MODEL}:{quant}")
                await wait_until(
                    pilot, lambda app=app: "asking the hub" not in _text(app, "#dl-file"), "the check"
                )
                await pilot.press("g")
                await _finished(pilot)
                errors = _errors(app)
                assert any(e.startswith(f"{title}:") and advice in e for e in errors), (title, errors)
                assert _text(app, "#dl-error").startswith(f"{title}:")
                assert app.is_running


def test_snapshot_before_a_download(snap_compare, hub, monkeypatch):
    from huggingface_hub import constants

    # The cache list names its folder: a fixed (empty) one keeps the snapshot free of temp paths.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", "/nonexistent/edgeapp-snapshot/hub")
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="downloads")

    async def checked(pilot) -> None:
        await _open(pilot)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=checked)


def test_snapshot_offline(snap_compare, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", "/nonexistent/edgeapp-snapshot/hub")
    app = make_app(
        estimate_for(monkeypatch, device("x86-laptop-i7-1165g7")),
        backend=LAPTOP_CPU_BACKEND,
        start_mode="downloads",
    )

    async def checked(pilot) -> None:
        await _open(pilot)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=checked)
