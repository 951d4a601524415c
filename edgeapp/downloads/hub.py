"""What the hub says about a file: its exact name in the repo listing, commit, size, sha256, URL.

Everything goes through huggingface_hub's public pieces (HfApi.model_info, get_hf_file_metadata,
build_hf_headers) so HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE and proxies behave as they do for every
other tool; their errors are translated here into edgeapp errors that say what to do.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from huggingface_hub import constants

from edgeapp.downloads.errors import HubRequestFailed, HubUnavailable, RemoteNotFound, RepoGated
from edgeapp.quants import FTYPE_NAMES, QUANTS

# Spellings publishers use for the same type in file names (Qwen writes fp16, bartowski f16).
_QUANT_ALIASES = {"F16": ("F16", "FP16"), "BF16": ("BF16",), "F32": ("F32", "FP32")}
_REGEX_COMMIT = re.compile(r"[0-9a-f]{40}")
_REGEX_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RemoteFile:
    """One file on the hub, pinned to a commit. `requested_filename` is set when another name matched."""

    repo: str
    filename: str
    revision: str
    commit: str
    size_bytes: int
    sha256: str | None
    etag: str
    url: str
    requested_filename: str | None = None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ListedFile:
    name: str
    size_bytes: int | None
    sha256: str | None  # LFS files only; git-stored files have a git blob id instead
    blob_id: str | None


@dataclass(frozen=True)
class RepoListing:
    """The files of a repo at one commit, as the hub lists them."""

    repo: str
    revision: str
    commit: str
    files: Mapping[str, ListedFile]

    def gguf_names(self) -> tuple[str, ...]:
        return tuple(sorted(n for n in self.files if n.lower().endswith(".gguf")))


def hub_endpoint() -> str:
    """Return the hub's base URL (HF_ENDPOINT, read by huggingface_hub at import)."""
    return constants.ENDPOINT.rstrip("/")


def offline_mode() -> bool:
    """Return True when HF_HUB_OFFLINE is on."""
    return constants.is_offline_mode()


def resolve_url(repo: str, filename: str, revision: str) -> str:
    """Return the hub's /resolve/ URL for a file (built from the live endpoint, so mirrors work)."""
    return f"{hub_endpoint()}/{repo}/resolve/{quote(revision, safe='')}/{quote(filename)}"


def auth_headers(token: str | bool | None = None) -> dict[str, str]:
    """Return huggingface_hub's request headers (user agent, and HF_TOKEN or the saved login)."""
    from huggingface_hub.utils import build_hf_headers

    return build_hf_headers(token=token)


def download_headers(url: str, token: str | bool | None = None) -> dict[str, str]:
    """Return headers for fetching `url`: the token goes only to the hub itself, never to a CDN."""
    from urllib.parse import urlsplit

    headers = auth_headers(token)
    here, hub = urlsplit(url), urlsplit(hub_endpoint())
    if (here.scheme, here.hostname, here.port) != (hub.scheme, hub.hostname, hub.port):
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return headers


def has_token(token: str | bool | None = None) -> bool:
    """Return True when a token would be sent to the hub."""
    return "authorization" in {k.lower() for k in auth_headers(token)}


@contextlib.contextmanager
def hub_errors(repo: str, filename: str | None, revision: str = "main", token=None) -> Iterator[None]:
    """Translate huggingface_hub and network errors raised inside the block into edgeapp errors."""
    import httpx2
    from huggingface_hub import errors as hf

    try:
        yield
    except hf.GatedRepoError as error:
        raise RepoGated(repo, hub_endpoint(), has_token(token)) from error
    except hf.RepositoryNotFoundError as error:
        message = (
            f"repo {repo} was not found on {hub_endpoint()}; check the name, or set HF_TOKEN if it is private"
        )
        raise RemoteNotFound(message, repo, filename) from error
    except hf.RevisionNotFoundError as error:
        raise RemoteNotFound(f"repo {repo} has no revision {revision!r}", repo, filename) from error
    except hf.RemoteEntryNotFoundError as error:
        raise RemoteNotFound(f"repo {repo} has no file {filename!r}", repo, filename) from error
    except (hf.OfflineModeIsEnabled, httpx2.TransportError) as error:
        # ProxyError and friends are TransportErrors too: the hub cannot be reached either way.
        raise HubUnavailable(repo, filename or "", None, offline_mode(), detail=str(error)[:200]) from error
    except hf.HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        hint = "HF_TOKEN is not a valid token" if status == 401 else "try again later"
        detail = error.server_message or str(error).splitlines()[0]
        raise HubRequestFailed(
            f"the hub answered {status} for {repo}/{filename or ''}: {detail}; {hint}"
        ) from error


def list_repo(repo: str, revision: str = "main", token: str | bool | None = None) -> RepoListing:
    """Return the repo's file listing with sizes and LFS sha256 (one /api/models request)."""
    from huggingface_hub import HfApi

    with hub_errors(repo, None, revision, token):
        info = HfApi(endpoint=hub_endpoint()).model_info(
            repo, revision=revision, files_metadata=True, token=token
        )
    files = {}
    for sibling in info.siblings or []:
        sha = sibling.lfs.sha256 if sibling.lfs else None
        files[sibling.rfilename] = ListedFile(sibling.rfilename, sibling.size, sha, sibling.blob_id)
    commit = info.sha or (revision if _REGEX_COMMIT.fullmatch(revision) else "")
    return RepoListing(repo=repo, revision=revision, commit=commit, files=files)


def _quant_tokens(name: str) -> set[str]:
    """Return the quant names (canonical) that appear in a file name as whole tokens."""
    upper = re.sub(r"\.GGUF$", "", name.upper())
    found = set()
    for quant in set(QUANTS) | set(FTYPE_NAMES.values()):
        for spelling in _QUANT_ALIASES.get(quant, (quant,)):
            if re.search(rf"(^|[._\-/]){re.escape(spelling)}([._\-]|$)", upper):
                found.add(quant)
    # "-Q2_K_S." also contains the token Q2_K; keep only the longest of such nested names.
    return {q for q in found if not any(o != q and o.startswith(q + "_") for o in found)}


def match_filename(wanted: str, names: tuple[str, ...] | list[str]) -> str | None:
    """Return the listed name that `wanted` means (exact, case-insensitive, or same quant); None if unclear."""
    if wanted in names:
        return wanted
    lower = [n for n in names if n.lower() == wanted.lower()]
    if len(lower) == 1:
        return lower[0]
    base = [n for n in names if n.rsplit("/", 1)[-1].lower() == wanted.rsplit("/", 1)[-1].lower()]
    if len(base) == 1:
        return base[0]
    quants = _quant_tokens(wanted)
    if len(quants) != 1:
        return None
    ggufs = [n for n in names if n.lower().endswith(".gguf") and "-of-0" not in n.lower()]
    same = [n for n in ggufs if _quant_tokens(n) == quants]
    return same[0] if len(same) == 1 else None


def _not_found(listing: RepoListing, filename: str) -> RemoteNotFound:
    ggufs = listing.gguf_names()
    have = ", ".join(ggufs) if ggufs else "none"
    return RemoteNotFound(
        f"repo {listing.repo} has no file {filename!r} at {listing.revision}; its GGUF files: {have}",
        listing.repo,
        filename,
        ggufs,
    )


def resolve_remote_file(
    repo: str, filename: str, revision: str = "main", token: str | bool | None = None
) -> RemoteFile:
    """Return the hub's facts for `filename` in `repo`, matching the name against the repo listing.

    Raises RepoGated, RemoteNotFound (listing the GGUF files the repo has), HubUnavailable (offline
    or no network) or HubRequestFailed.
    """
    from huggingface_hub import get_hf_file_metadata

    if offline_mode():
        raise HubUnavailable(repo, filename, None, True)
    listing = list_repo(repo, revision, token)
    actual = match_filename(filename, tuple(listing.files))
    if actual is None:
        raise _not_found(listing, filename)
    pinned = listing.commit or revision
    url = resolve_url(repo, actual, pinned)
    with hub_errors(repo, actual, revision, token):
        meta = get_hf_file_metadata(url, token=token, endpoint=hub_endpoint(), retry_on_errors=True)
    listed = listing.files[actual]
    sha256 = listed.sha256 or (meta.etag if meta.etag and _REGEX_SHA256.fullmatch(meta.etag) else None)
    size = meta.size if meta.size is not None else listed.size_bytes
    if not meta.etag or size is None:
        raise HubRequestFailed(
            f"the hub gave no ETag or size for {repo}/{actual}; HF_ENDPOINT={hub_endpoint()} may not "
            "be a Hugging Face hub or mirror"
        )
    return RemoteFile(
        repo=repo,
        filename=actual,
        revision=revision,
        commit=meta.commit_hash or pinned,
        size_bytes=int(size),
        sha256=sha256,
        etag=meta.etag,
        url=meta.location or url,
        requested_filename=None if actual == filename else filename,
    )
