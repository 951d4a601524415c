"""GGUF headers, read and validated before llama.cpp ever sees a file.

`read_header(path)` reads only the header of a local file (never the weights), checks it with
the bounded walker in `gguf_checks`, and returns a `GgufHeader`: the architecture facts the
estimator and the engine need, the chat template, and every tensor's type, shape, absolute
offset and size. `parse_header(prefix, file_size)` does the same from the first bytes of a
remote file (an HTTP Range request); `HeaderIncomplete` says how many bytes it needs. Anything
wrong becomes `CorruptModelFile` with one plain sentence.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, BinaryIO

from edgeapp import gguf_checks as checks
from edgeapp.atomic import atomic_path
from edgeapp.errors import CorruptModelFile, ModelNotFound
from edgeapp.gguf_checks import ArrayValue, Malformed, NeedBytes, RawHeader, RawValue, Scalar
from edgeapp.quants import FTYPE_NAMES

FIRST_READ_BYTES = 4 * 1024 * 1024  # most headers are 1-8 MB; bigger ones are read in doublings
MAX_HEADER_BYTES = 256 * 1024 * 1024  # a 262k-token vocabulary is 6.5 MB; more is not a header
SHORT_STRING_CHARS = 1024  # longer metadata strings stay out of `metadata`
_LAYER_NAME = re.compile(r"blk\.(\d+)\.")


class HeaderIncomplete(CorruptModelFile):
    """The bytes given end before the header does; fetch at least `needed_bytes` and parse again."""

    def __init__(self, needed_bytes: int, source: object = "<header prefix>", have_bytes: int = 0) -> None:
        self.needed_bytes = needed_bytes
        self.have_bytes = have_bytes
        super().__init__(
            source,
            f"the first {have_bytes:,} bytes end inside the header; at least {needed_bytes:,} are needed",
        )


@dataclass(frozen=True)
class TensorInfo:
    """One tensor: shape in GGUF order (row length first), absolute file offset, size in bytes."""

    name: str
    ggml_type: int
    type_name: str
    shape: tuple[int, ...]
    offset: int
    n_bytes: int
    layer: int | None  # N from a `blk.N.` prefix; None for embeddings, output, final norm

    def to_json(self) -> dict[str, Any]:
        """Return the tensor as a JSON-ready dict."""
        return {
            "name": self.name,
            "type": self.type_name,
            "shape": list(self.shape),
            "offset": self.offset,
            "n_bytes": self.n_bytes,
            "layer": self.layer,
        }


@dataclass(frozen=True)
class GgufHeader:
    """The checked header of one GGUF file: architecture facts, tokenizer facts and tensors."""

    source: str
    file_size: int
    version: int
    alignment: int
    data_offset: int  # where tensor data starts: header_bytes rounded up to the alignment
    header_bytes: int  # bytes a reader needs: up to the end of the last tensor info
    architecture: str
    name: str | None
    file_type: str | None  # quant name from general.file_type; None if the key is absent
    n_layers: int
    n_embd: int
    n_head: int  # the largest, where the file gives one per layer
    n_head_kv: int  # the largest, where the file gives one per layer
    head_dim: int
    n_vocab: int
    ctx_train: int
    sliding_window: int | None
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    metadata: Mapping[str, Scalar] = field(hash=False)  # arrays as their length; no chat templates
    tensors: tuple[TensorInfo, ...] = ()
    # numeric arrays of up to 1,024 entries, decoded: per-layer head counts, sliding-window patterns
    arrays: Mapping[str, tuple[int | float | bool, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Read-only views, so a shared header cannot be changed under another reader.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        object.__setattr__(self, "arrays", MappingProxyType(dict(self.arrays)))

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Mapping proxies do not pickle; the engine and the TUI send headers between processes.
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(metadata=dict(self.metadata), arrays=dict(self.arrays))
        return _header_from_fields, (values,)

    def weights_bytes(self) -> int:
        """Return the bytes of all tensor data (what llama.cpp loads as weights)."""
        return sum(t.n_bytes for t in self.tensors)

    def layer_bytes(self) -> dict[int, int]:
        """Return the tensor bytes of each repeating block, by block index."""
        sizes: dict[int, int] = {}
        for tensor in self.tensors:
            if tensor.layer is not None:
                sizes[tensor.layer] = sizes.get(tensor.layer, 0) + tensor.n_bytes
        return dict(sorted(sizes.items()))

    def non_layer_bytes(self) -> int:
        """Return the bytes of tensors outside the blocks: token embedding, output, final norm."""
        return sum(t.n_bytes for t in self.tensors if t.layer is None)

    def quant_label(self) -> str:
        """Return the file type (`Q4_K_M`), or the tensor type holding most bytes if it is absent."""
        if self.file_type:
            return self.file_type
        by_type: Counter[str] = Counter()
        for tensor in self.tensors:
            by_type[tensor.type_name] += tensor.n_bytes
        return by_type.most_common(1)[0][0] if by_type else "unknown"

    def to_json(self, *, include_tensors: bool = False) -> dict[str, Any]:
        """Return the header as a JSON-ready dict; the tensor list only if asked for."""
        result: dict[str, Any] = {
            name: getattr(self, name)
            for name in (
                "source", "file_size", "version", "alignment", "data_offset", "header_bytes",
                "architecture", "name", "file_type", "n_layers", "n_embd", "n_head", "n_head_kv",
                "head_dim", "n_vocab", "ctx_train", "sliding_window", "chat_template",
                "bos_token_id", "eos_token_id",
            )
        }  # fmt: skip
        result["quant"] = self.quant_label()
        result["weights_bytes"] = self.weights_bytes()
        result["n_tensors"] = len(self.tensors)
        result["metadata"] = dict(self.metadata)
        result["arrays"] = {key: list(values) for key, values in self.arrays.items()}
        if include_tensors:
            result["tensors"] = [t.to_json() for t in self.tensors]
        return result


def _header_from_fields(values: dict[str, Any]) -> GgufHeader:
    return GgufHeader(**values)


def read_header(path: str | os.PathLike[str], *, check_data: bool = True) -> GgufHeader:
    """Return the validated header of the GGUF file at `path`, reading only the header bytes.

    With `check_data`, every tensor's bytes must lie inside the file (a truncated download fails
    here, not inside llama.cpp). Raises ModelNotFound if there is no such file and
    CorruptModelFile for anything else: a directory, an unreadable file, or a damaged header.
    """
    file_size = _regular_file_size(path)
    try:
        with open(path, "rb") as handle:
            return _read_open_file(handle, str(path), file_size, check_data)
    except PermissionError:
        raise CorruptModelFile(path, "it cannot be read (permission denied); check its permissions") from None
    except IsADirectoryError:
        raise CorruptModelFile(path, "it is a directory, not a GGUF file") from None
    except FileNotFoundError:
        raise ModelNotFound(f"model file {path} does not exist (removed while being read?)") from None
    except OSError as error:
        raise CorruptModelFile(path, f"reading it failed: {error.strerror or error}") from None


def validate_gguf(path: str | os.PathLike[str]) -> GgufHeader:
    """Return the header of `path` after checking header and tensor extents (= read_header)."""
    return read_header(path, check_data=True)


def parse_header(
    data: bytes | bytearray | memoryview, file_size: int, source: str = "<header>", *, check_data: bool = True
) -> GgufHeader:
    """Return the header parsed from `data`, the first bytes of a `file_size`-byte GGUF file.

    Raises HeaderIncomplete (a CorruptModelFile) with `needed_bytes` when `data` ends before
    the header does: fetch at least that many bytes (doubling is a good plan) and call again.
    Tensor extents are checked against `file_size`, so a header that promises more data than
    the file has fails here. Raises CorruptModelFile for a damaged header.
    """
    try:
        raw = checks.parse_raw(data, file_size)
        alignment = checks.check_metadata(raw.kvs)
        data_offset = _check_layout(raw, alignment, file_size, check_data)
        return _build_header(raw, source, file_size, alignment, data_offset)
    except NeedBytes as more:
        raise HeaderIncomplete(more.needed_bytes, source, min(len(data), file_size)) from None
    except Malformed as bad:
        raise CorruptModelFile(source, bad.reason) from None


def write_sparse_copy(header_prefix: bytes, file_size: int, dest: str | os.PathLike[str]) -> None:
    """Write `header_prefix` to `dest` and extend it with a hole to `file_size` bytes.

    llama.cpp can dry-run a load (no_alloc) on such a file to measure the memory a model needs
    before its weights are downloaded; the hole costs no disk space.
    """
    if len(header_prefix) > file_size:
        raise ValueError(f"a {len(header_prefix):,}-byte prefix does not fit in {file_size:,} bytes")
    with atomic_path(dest, suffix=".sparse") as tmp, open(tmp, "wb") as handle:
        handle.write(header_prefix)
        handle.truncate(file_size)


def _regular_file_size(path: str | os.PathLike[str]) -> int:
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ModelNotFound(f"model file {path} does not exist") from None
    except PermissionError:
        raise CorruptModelFile(
            path, "it cannot be reached (permission denied); check its permissions"
        ) from None
    except OSError as error:
        raise CorruptModelFile(path, f"it cannot be read: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CorruptModelFile(path, "it is a directory, not a GGUF file")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or a device would block or never end; no model lives there.
        raise CorruptModelFile(path, "it is not a regular file")
    if info.st_size == 0:
        raise CorruptModelFile(path, "zero-byte file (an interrupted download or copy?)")
    return info.st_size


def _read_open_file(handle: BinaryIO, source: str, file_size: int, check_data: bool) -> GgufHeader:
    buffer = bytearray()
    want = min(file_size, FIRST_READ_BYTES)
    while True:
        chunk = handle.read(want - len(buffer))
        if len(buffer) + len(chunk) < want:
            raise CorruptModelFile(
                source, "the file got shorter while it was read (is something still writing it?)"
            )
        buffer += chunk
        try:
            return parse_header(buffer, file_size, source, check_data=check_data)
        except HeaderIncomplete as more:
            if more.needed_bytes > MAX_HEADER_BYTES:
                raise CorruptModelFile(
                    source,
                    f"its header would be larger than {MAX_HEADER_BYTES // 2**20} MiB, which no model needs",
                ) from None
            want = min(file_size, MAX_HEADER_BYTES, max(more.needed_bytes, 2 * len(buffer)))


def _build_header(
    raw: RawHeader, source: str, file_size: int, alignment: int, data_offset: int
) -> GgufHeader:
    kvs = raw.kvs
    arch = _require_str(kvs, "general.architecture")
    n_layers = _require_int(kvs, f"{arch}.block_count")
    n_embd = _require_int(kvs, f"{arch}.embedding_length")
    n_head = _largest_int(kvs, f"{arch}.attention.head_count") or 0
    n_head_kv = _largest_int(kvs, f"{arch}.attention.head_count_kv")
    key_length = _optional_int(kvs, f"{arch}.attention.key_length")
    if n_head and n_head_kv is not None and n_head_kv > n_head:
        # Every architecture shares each KV head among one or more query heads; more KV heads
        # than heads is damage, and would size the KV cache absurdly (terabytes) in the estimate.
        raise Malformed(
            f"{arch}.attention.head_count_kv is {n_head_kv:,} but {arch}.attention.head_count is "
            f"{n_head:,}; a model never has more KV heads than attention heads"
        )
    tensors = tuple(_tensor_info(t, data_offset) for t in raw.tensors)
    _check_layers(tensors, n_layers, f"{arch}.block_count")
    ftype = _optional_int(kvs, "general.file_type")
    return GgufHeader(
        source=source,
        file_size=file_size,
        version=raw.version,
        alignment=alignment,
        data_offset=data_offset,
        header_bytes=raw.header_bytes,
        architecture=arch,
        name=_optional_str(kvs, "general.name"),
        file_type=None if ftype is None else _ftype_name(ftype),
        n_layers=n_layers,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head if n_head_kv is None else n_head_kv,
        head_dim=key_length or (n_embd // n_head if n_head else 0),
        n_vocab=_vocab_size(kvs, arch, tensors),
        ctx_train=_require_int(kvs, f"{arch}.context_length"),
        sliding_window=_optional_int(kvs, f"{arch}.attention.sliding_window"),
        chat_template=_optional_str(kvs, "tokenizer.chat_template"),
        bos_token_id=_optional_int(kvs, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_optional_int(kvs, "tokenizer.ggml.eos_token_id"),
        metadata=_metadata_summary(kvs),
        tensors=tensors,
        arrays=_small_arrays(kvs, arch),
    )


def _check_layout(raw: RawHeader, alignment: int, file_size: int, check_data: bool) -> int:
    """Return the absolute data offset after checking alignment, order, overlap and file extents."""
    data_offset = -(-raw.header_bytes // alignment) * alignment
    expected = 0
    previous = None
    for tensor in raw.tensors:
        offset = tensor.rel_offset
        if offset % alignment:
            raise Malformed(
                f"tensor {tensor.name} offset {offset:,} is not a multiple of the alignment {alignment}"
            )
        if offset < expected:
            raise Malformed(f"tensor {tensor.name} at data offset {offset:,} overlaps tensor {previous}")
        if offset > expected:
            after = f"tensor {previous} ends at {expected:,}" if previous else "the first tensor starts at 0"
            raise Malformed(
                f"tensor {tensor.name} starts at data offset {offset:,} but {after}; "
                "llama.cpp needs tensors stored back to back"
            )
        expected = offset + -(-tensor.n_bytes // alignment) * alignment
        previous = tensor.name
    if check_data:
        for tensor in raw.tensors:
            end = data_offset + tensor.rel_offset + tensor.n_bytes
            if end > file_size:
                raise Malformed(
                    f"the file ends at byte {file_size:,} but tensor {tensor.name} needs bytes up to "
                    f"{end:,} (truncated download?)"
                )
    return data_offset


def _tensor_info(raw: checks.RawTensor, data_offset: int) -> TensorInfo:
    match = _LAYER_NAME.match(raw.name)
    return TensorInfo(
        name=raw.name,
        ggml_type=raw.ggml_type,
        type_name=checks.type_name(raw.ggml_type),
        shape=raw.shape,
        offset=data_offset + raw.rel_offset,
        n_bytes=raw.n_bytes,
        layer=int(match.group(1)) if match else None,
    )


def _check_layers(tensors: tuple[TensorInfo, ...], n_layers: int, key: str) -> None:
    if tensors and n_layers > len(tensors):
        raise Malformed(f"{key} is {n_layers:,} but the file has only {len(tensors):,} tensors")
    for tensor in tensors:
        if tensor.layer is not None and tensor.layer >= n_layers:
            raise Malformed(f"tensor {tensor.name} belongs to layer {tensor.layer} but {key} is {n_layers}")


def _require_str(kvs: dict[str, RawValue], key: str) -> str:
    value = _optional_str(kvs, key)
    if not value:
        raise Malformed(f"the metadata key {key} is missing or empty")
    return value


def _optional_str(kvs: dict[str, RawValue], key: str) -> str | None:
    raw = kvs.get(key)
    return raw.value if raw is not None and isinstance(raw.value, str) else None


def _require_int(kvs: dict[str, RawValue], key: str) -> int:
    raw = kvs.get(key)
    if raw is None:
        raise Malformed(f"the metadata key {key} is missing")
    value = _optional_int(kvs, key)
    if value is None or value < 1:
        raise Malformed(f"the metadata key {key} is {raw.value!r}; it must be a positive integer")
    return value


def _optional_int(kvs: dict[str, RawValue], key: str) -> int | None:
    raw = kvs.get(key)
    if raw is None or raw.vtype not in checks.INTEGER_TYPES:
        return None
    return int(raw.value)  # type: ignore[arg-type]


def _largest_int(kvs: dict[str, RawValue], key: str) -> int | None:
    raw = kvs.get(key)
    if raw is not None and isinstance(raw.value, ArrayValue):
        if not raw.value.values:
            raise Malformed(
                f"the metadata array {key} has {raw.value.length:,} entries; expected one per layer"
            )
        return int(max(raw.value.values))
    return _optional_int(kvs, key)


def _vocab_size(kvs: dict[str, RawValue], arch: str, tensors: tuple[TensorInfo, ...]) -> int:
    tokens = kvs.get("tokenizer.ggml.tokens")
    if tokens is not None and isinstance(tokens.value, ArrayValue):
        return tokens.value.length
    declared = _optional_int(kvs, f"{arch}.vocab_size")
    if declared:
        return declared
    for tensor in tensors:
        if tensor.name == "token_embd.weight" and len(tensor.shape) >= 2:
            return tensor.shape[1]
    raise Malformed(f"it has no vocabulary (neither tokenizer.ggml.tokens nor {arch}.vocab_size)")


def _ftype_name(ftype: int) -> str:
    if ftype in FTYPE_NAMES:
        return FTYPE_NAMES[ftype]
    try:
        return checks.C.LlamaFileType(ftype).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"ftype {ftype}"


def _metadata_summary(kvs: dict[str, RawValue]) -> dict[str, Scalar]:
    summary: dict[str, Scalar] = {}
    for key, raw in kvs.items():
        value = raw.value
        if key.startswith("tokenizer.chat_template"):
            continue
        if isinstance(value, ArrayValue):
            summary[key] = value.length
        elif not isinstance(value, str) or len(value) <= SHORT_STRING_CHARS:
            summary[key] = value
    return summary


def _small_arrays(kvs: dict[str, RawValue], arch: str) -> dict[str, tuple[int | float | bool, ...]]:
    return {
        key: raw.value.values
        for key, raw in kvs.items()
        if key.startswith(f"{arch}.") and isinstance(raw.value, ArrayValue) and raw.value.values is not None
    }
