"""Downloads against a real HTTP server speaking the hub's file API on 127.0.0.1: the happy path,
name resolution, the HF cache layout other tools read, errors from the hub, offline mode, header
checks and cache removal. Faults (drops, kills, cancel, disk) are in test_downloads_faults.py."""

from __future__ import annotations

import hashlib

import pytest
from huggingface_hub import constants, hf_hub_download, scan_cache_dir, try_to_load_from_cache

from edgeapp.downloads import (
    ChecksumFailed,
    DownloadLocked,
    HubUnavailable,
    RemoteNotFound,
    RepoGated,
    cached_file,
    download,
    download_file,
    fetch_remote_header,
    list_cached,
    remove_cached,
    resolve_remote_file,
)
from edgeapp.downloads import cache as cache_layout
from edgeapp.errors import CorruptModelFile
from edgeapp.gguf_file import read_header
from tests.hubserver import FULL_NAME, GATED_REPO, PADDED_NAME, REPO, SMALL_NAME


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fresh_download_lands_in_the_hf_cache_where_huggingface_hub_finds_it(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {FULL_NAME: gguf_files.full})
    events = []

    result = download(REPO, FULL_NAME, progress=events.append, min_free_margin_bytes=0)

    size = gguf_files.full.stat().st_size
    assert result.verified and not result.from_cache
    assert result.downloaded_bytes == size and result.resumed_from_bytes == 0
    assert result.sha256 == _sha256(gguf_files.full) == _sha256(result.path)
    assert result.path.is_symlink()
    assert result.path.resolve() == cache_layout.blob_path(REPO, result.sha256)
    assert [e.downloaded_bytes for e in events] == sorted(e.downloaded_bytes for e in events)
    assert events[-1].downloaded_bytes == events[-1].total_bytes == size
    # huggingface_hub's own readers see the file as cached, with nothing left half-done.
    assert hf_hub_download(REPO, FULL_NAME, local_files_only=True) == str(result.path)
    assert try_to_load_from_cache(REPO, FULL_NAME) == str(result.path)
    info = scan_cache_dir(hub_env.cache_dir)
    assert not info.warnings and not info.incomplete_files
    assert [(r.repo_id, r.size_on_disk) for r in info.repos] == [(REPO, size)]
    assert cached_file(REPO, FULL_NAME).verified


def test_second_download_is_served_from_the_cache(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    first = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    mark = hub_env.hub.mark()

    again = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert again.path == first and again.from_cache and again.downloaded_bytes == 0
    assert hub_env.hub.body_bytes_sent(SMALL_NAME, since=mark) == 0


def test_file_names_are_matched_against_the_repo_listing(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small, "README.md": gguf_files.corrupt})

    by_case = resolve_remote_file(REPO, SMALL_NAME.lower())
    by_quant = resolve_remote_file(REPO, "smollm2-135m-instruct.q4_k_m.gguf")
    exact = resolve_remote_file(REPO, SMALL_NAME)

    assert by_case.filename == by_quant.filename == exact.filename == SMALL_NAME
    assert by_case.requested_filename == SMALL_NAME.lower() and exact.requested_filename is None
    assert exact.sha256 == exact.etag == _sha256(gguf_files.small)
    assert exact.size_bytes == gguf_files.small.stat().st_size
    assert exact.url.startswith(hub_env.hub.cdn_endpoint)  # the LFS redirect, as on huggingface.co
    with pytest.raises(RemoteNotFound) as caught:
        resolve_remote_file(REPO, "SmolLM2-135M-Instruct-Q6_K.gguf")
    assert caught.value.files == (SMALL_NAME,)
    assert SMALL_NAME in str(caught.value) and "README" not in str(caught.value)


def test_missing_repo_revision_and_file_are_reported_plainly(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})

    with pytest.raises(RemoteNotFound, match="repo nobody/nothing was not found"):
        download_file("nobody/nothing", SMALL_NAME)
    with pytest.raises(RemoteNotFound, match="no revision 'v9'"):
        download_file(REPO, SMALL_NAME, revision="v9")
    with pytest.raises(RemoteNotFound, match=f"no file 'other.gguf' at main; its GGUF files: {SMALL_NAME}"):
        download_file(REPO, "other.gguf")
    assert list_cached() == []


def test_gated_repo_needs_a_token_with_access(hub_env, gguf_files, monkeypatch):
    repo = hub_env.hub.add_repo(GATED_REPO, {SMALL_NAME: gguf_files.small}, gated=True)

    with pytest.raises(RepoGated) as anonymous:
        download_file(GATED_REPO, SMALL_NAME)
    message = str(anonymous.value)
    assert f"repo {GATED_REPO} is gated: accept its licence at {hub_env.hub.endpoint}/{GATED_REPO}" in message
    assert "HF_TOKEN" in message and "huggingface-cli login" in message

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")  # a real token, not yet granted (403)
    with pytest.raises(RepoGated, match="no access yet"):
        download_file(GATED_REPO, SMALL_NAME)

    repo.granted_tokens.add("hf_test_token")
    mark = hub_env.hub.mark()
    path = download_file(GATED_REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert _sha256(path) == _sha256(gguf_files.small)
    sent = hub_env.hub.requests(since=mark)
    assert any(r.server == "hub" and r.authorization == "Bearer hf_test_token" for r in sent)
    assert all(r.authorization is None for r in sent if r.server == "cdn"), "token leaked to the CDN"


def test_body_that_does_not_match_the_announced_sha256_is_removed(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    hub_env.hub.file(REPO, SMALL_NAME).sha256 = _sha256(gguf_files.corrupt)  # listing and X-Linked-Etag lie

    with pytest.raises(ChecksumFailed, match="was removed; run the command again to download it afresh"):
        download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)

    blobs = cache_layout.repo_dir(REPO) / "blobs"
    assert list(blobs.iterdir()) == []
    assert cached_file(REPO, SMALL_NAME) is None
    assert try_to_load_from_cache(REPO, SMALL_NAME) is None


def test_file_with_a_damaged_gguf_header_never_becomes_available(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.corrupt})  # sha256 matches the bytes served

    with pytest.raises(CorruptModelFile, match="the download was removed"):
        download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert list((cache_layout.repo_dir(REPO) / "blobs").iterdir()) == []
    assert cached_file(REPO, SMALL_NAME) is None


def test_file_stored_in_git_is_checked_against_its_git_blob_id(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small}, lfs=False)

    remote = resolve_remote_file(REPO, SMALL_NAME)
    path = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert remote.sha256 is None and len(remote.etag) == 40
    assert cached_file(REPO, SMALL_NAME).sha256 == _sha256(path) == _sha256(gguf_files.small)


def test_offline_mode_uses_the_cache_and_names_the_command_for_missing_files(
    hub_env, gguf_files, monkeypatch
):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small, FULL_NAME: gguf_files.full})
    path = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    mark = hub_env.hub.mark()

    again = download(REPO, SMALL_NAME)
    with pytest.raises(HubUnavailable) as caught:
        download_file(REPO, FULL_NAME)

    assert again.path == path and again.from_cache
    assert hub_env.hub.requests(since=mark) == []
    assert "offline mode is on" in str(caught.value) and "Run `edgeapp pull" in str(caught.value)
    assert "edgeapp pull x:Q4_1" in str(caught.value.for_ref("x:Q4_1"))


def test_without_network_cached_files_still_resolve(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small, FULL_NAME: gguf_files.full})
    path = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    hub_env.hub.stop()

    assert download_file(REPO, SMALL_NAME) == path
    with pytest.raises(HubUnavailable, match=r"cannot be reached \(no network"):
        download_file(REPO, FULL_NAME)


def test_offline_mode_from_the_environment_in_a_fresh_process(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    path = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    mark = hub_env.hub.mark()
    code = f"""
from edgeapp.downloads import download_file, HubUnavailable
print(download_file({REPO!r}, {SMALL_NAME!r}))
try:
    download_file({REPO!r}, {FULL_NAME!r})
except HubUnavailable as error:
    print(error)
"""
    done = hub_env.run_python(code, HF_HUB_OFFLINE="1")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(path)
    assert "is not downloaded and the hub cannot be reached (offline mode is on" in lines[1]
    assert hub_env.hub.requests(since=mark) == []


def test_file_downloaded_by_huggingface_hub_is_verified_once_without_a_transfer(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    theirs = hf_hub_download(REPO, SMALL_NAME)  # huggingface_hub checks no sha256

    assert cached_file(REPO, SMALL_NAME) is None  # present but not verified by us
    assert [f.verified for f in list_cached()] == [False]
    mark = hub_env.hub.mark()
    ours = download(REPO, SMALL_NAME, min_free_margin_bytes=0)

    assert str(ours.path) == theirs and ours.verified and ours.from_cache
    assert hub_env.hub.body_bytes_sent(SMALL_NAME, since=mark) == 0
    assert cached_file(REPO, SMALL_NAME).verified


def test_header_fit_check_reads_only_the_front_of_the_file(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {FULL_NAME: gguf_files.full, PADDED_NAME: gguf_files.padded})

    header, read_bytes = fetch_remote_header(REPO, FULL_NAME)
    padded, padded_bytes = fetch_remote_header(REPO, PADDED_NAME)

    local = read_header(gguf_files.full)
    assert header.tensors == local.tensors and header.n_layers == local.n_layers == 30
    assert read_bytes == 2 * 1024 * 1024 < 8_000_000
    assert padded.tensors == read_header(gguf_files.padded).tensors
    assert padded.header_bytes > 2 * 1024 * 1024  # it took more than the first request
    assert padded_bytes < 8_000_000
    gets = [r for r in hub_env.hub.requests() if r.server == "cdn" and r.method == "GET"]
    assert len(gets) == 3 and all(r.range for r in gets)
    assert (
        hub_env.hub.body_bytes_sent(FULL_NAME) + hub_env.hub.body_bytes_sent(PADDED_NAME)
        == read_bytes + padded_bytes
    )


def test_remove_frees_blob_snapshot_and_partial_downloads(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small, FULL_NAME: gguf_files.full})
    path = download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    full = resolve_remote_file(REPO, FULL_NAME)
    partial = cache_layout.incomplete_path(REPO, full.etag)
    partial.write_bytes(gguf_files.full.read_bytes()[:1_000_000])  # as a killed download leaves it
    cache_layout.write_record(REPO, full.etag, filename=FULL_NAME)

    freed = remove_cached(REPO, SMALL_NAME)

    assert freed == gguf_files.small.stat().st_size
    assert not path.exists() and not path.is_symlink() and list_cached() == []
    assert not scan_cache_dir(hub_env.cache_dir).warnings
    assert remove_cached(REPO, FULL_NAME) == 1_000_000
    assert not cache_layout.repo_dir(REPO).exists()
    assert remove_cached(REPO, SMALL_NAME) == 0


def test_a_download_in_progress_elsewhere_is_not_written_twice(hub_env, gguf_files):
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    etag = _sha256(gguf_files.small)

    with cache_layout.blob_lock(REPO, etag, SMALL_NAME), pytest.raises(DownloadLocked, match="another"):
        download_file(REPO, SMALL_NAME, min_free_margin_bytes=0)
    assert download_file(REPO, SMALL_NAME, min_free_margin_bytes=0).is_file()
