"""The bounded GGUF header walker behind `gguf_file`: raw keys, values and tensor infos, checked.

Every count and length is compared with the bytes that remain in the *file* before anything is
looped over or allocated, so a hostile header costs at most one pass over the bytes it really has.
Failures are `Malformed(reason)` (one plain sentence) or `NeedBytes(n)` when the buffer is only a
prefix of the file and ends before the header does; `gguf_file` turns them into user errors.

The format tables (value types, tensor types, block sizes) come from the `gguf` package's
`constants` module, loaded on its own: `import gguf` would pull in numpy, a third of a second.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from dataclasses import dataclass
from types import ModuleType


def _load_gguf_constants() -> ModuleType:
    """Return `gguf.constants` without running the `gguf` package's __init__ (numpy, 0.3 s)."""
    loaded = sys.modules.get("gguf.constants")
    if loaded is not None:
        return loaded
    try:
        package = importlib.util.find_spec("gguf")
        assert package is not None and package.submodule_search_locations
        location = f"{list(package.submodule_search_locations)[0]}/constants.py"
        spec = importlib.util.spec_from_file_location("edgeapp._gguf_constants", location)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    except (AssertionError, ImportError, OSError):
        import gguf.constants  # the plain import works everywhere, just slower

        return gguf.constants


C = _load_gguf_constants()
VT = C.GGUFValueType
GGUF_MAGIC_BYTES = struct.pack("<I", C.GGUF_MAGIC)  # b"GGUF"
SUPPORTED_VERSIONS = (2, 3)  # v1 had 32-bit counts; llama.cpp dropped it in 2023
QUANT_SIZES: dict[int, tuple[int, int]] = {int(t): size for t, size in C.GGML_QUANT_SIZES.items()}

MAX_KEY_BYTES = 65535  # the GGUF spec's limit; real keys are under 100 bytes
MAX_STRING_BYTES = 64 * 1024 * 1024  # chat templates are kilobytes; this is only a sanity cap
MAX_WALKED_ELEMENTS = 1 << 24  # string arrays are walked in Python: bound the loop
MAX_TENSOR_NAME_BYTES = 63  # GGML_MAX_NAME is 64 including the terminating NUL
MAX_DIMS = 4  # GGML_MAX_DIMS
SMALL_ARRAY_ELEMENTS = 1024  # numeric arrays up to this size are decoded (per-layer head counts)
MIN_KV_BYTES = 8 + 4 + 1  # key length, value type, smallest value
MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8  # name length, n_dims, one dim, type, offset
PLAUSIBLE_COUNT = 1 << 20  # more keys or tensors than this is damage, not a big model

_SCALAR_FORMATS: dict[int, str] = {
    VT.UINT8: "B", VT.INT8: "b", VT.UINT16: "H", VT.INT16: "h", VT.UINT32: "I", VT.INT32: "i",
    VT.FLOAT32: "f", VT.BOOL: "?", VT.UINT64: "Q", VT.INT64: "q", VT.FLOAT64: "d",
}  # fmt: skip
_SCALAR_STRUCTS = {vtype: struct.Struct("<" + fmt) for vtype, fmt in _SCALAR_FORMATS.items()}
INTEGER_TYPES = frozenset({VT.UINT8, VT.INT8, VT.UINT16, VT.INT16, VT.UINT32, VT.INT32, VT.UINT64, VT.INT64})
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

Buffer = bytes | bytearray | memoryview
Scalar = int | float | bool | str


class Malformed(Exception):
    """The bytes are not a usable GGUF header; `reason` is one plain sentence."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NeedBytes(Exception):
    """The buffer is a prefix that ends before the header does; `needed_bytes` would get further."""

    def __init__(self, needed_bytes: int) -> None:
        self.needed_bytes = needed_bytes
        super().__init__(f"need at least {needed_bytes:,} bytes")


@dataclass(frozen=True)
class ArrayValue:
    """A metadata array: its element type and length; values only for small numeric arrays."""

    elem_type: int
    length: int
    values: tuple[int | float | bool, ...] | None


@dataclass(frozen=True)
class RawValue:
    """One metadata value as stored: its GGUF value type and the decoded value."""

    vtype: int
    value: Scalar | ArrayValue


@dataclass(frozen=True)
class RawTensor:
    """One tensor info as stored: `rel_offset` counts from the start of the data section."""

    name: str
    ggml_type: int
    shape: tuple[int, ...]
    rel_offset: int
    n_bytes: int


@dataclass(frozen=True)
class RawHeader:
    """What the walker read: version, metadata in file order, tensor infos, end of the infos."""

    version: int
    kvs: dict[str, RawValue]
    tensors: tuple[RawTensor, ...]
    header_bytes: int


def size_words(n: int) -> str:
    """Return a file size for a sentence: `30-byte`, `98 MB`, `7.2 GB` (decimal units)."""
    if n < 1000:
        return f"{n:,}-byte"
    for unit, scale in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)):
        value = n / scale
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n:,}-byte"  # pragma: no cover - the loop always returns


def type_name(ggml_type: int) -> str:
    """Return the ggml tensor type's name (`Q4_1`), or `type N` if the tables do not know it."""
    try:
        return C.GGMLQuantizationType(ggml_type).name
    except ValueError:
        return f"type {ggml_type}"


class _Cursor:
    """A read position over a prefix of a file of known size; every read is bounds-checked."""

    def __init__(self, buf: Buffer, file_size: int) -> None:
        self.buf = buf
        self.file_size = file_size
        self.have = min(len(buf), file_size)
        self.pos = 0

    def remaining(self) -> int:
        return self.file_size - self.pos

    def need(self, n: int, what: str) -> None:
        end = self.pos + n
        if end > self.have:
            if end > self.file_size:
                raise Malformed(
                    f"the file ends at byte {self.file_size:,}, inside {what} (truncated download?)"
                )
            raise NeedBytes(end)

    def number(self, form: struct.Struct, what: str) -> int:
        self.need(form.size, what)
        value = form.unpack_from(self.buf, self.pos)[0]
        self.pos += form.size
        return int(value)

    def u32(self, what: str) -> int:
        return self.number(_U32, what)

    def u64(self, what: str) -> int:
        return self.number(_U64, what)

    def string(self, what: str, cap: int) -> bytes:
        start = self.pos
        n = self.u64(f"the length of {what}")
        if n > self.remaining():
            hint = " (truncated download?)" if n <= cap else ""
            raise Malformed(
                f"{what} at byte {start:,} claims {n:,} bytes but only {self.remaining():,} remain{hint}"
            )
        if n > cap:
            raise Malformed(f"{what} at byte {start:,} is {n:,} bytes long; at most {cap:,} make sense")
        self.need(n, what)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def skip_strings(self, n: int, what: str) -> None:
        # The hot loop of a header (two arrays of ~49k strings in the bundled model): lengths
        # only, no decoding; a string that does not fit goes through `string` for the message.
        buf, pos, have, unpack = self.buf, self.pos, self.have, _U64.unpack_from
        for index in range(n):
            if pos + 8 <= have:
                nxt = pos + 8 + unpack(buf, pos)[0]
                if nxt <= have:
                    pos = nxt
                    continue
            self.pos = pos
            self.string(f"element {index:,} of {what}", MAX_STRING_BYTES)
            pos = self.pos
        self.pos = pos

    def bound_count(self, n: int, unit_bytes: int, what: str, start: int) -> None:
        if n * unit_bytes > self.remaining():
            hint = " (truncated download?)" if n <= MAX_WALKED_ELEMENTS else ""
            raise Malformed(
                f"{what} at byte {start:,} claims {n:,} elements ({n * unit_bytes:,} bytes or more) "
                f"but only {self.remaining():,} bytes remain{hint}"
            )


def parse_raw(buf: Buffer, file_size: int) -> RawHeader:
    """Return the header walked from `buf` (a prefix of a `file_size`-byte file), structurally checked."""
    cur = _Cursor(buf, file_size)
    _check_magic(cur)
    version = cur.u32("the version")
    if version & 0xFFFF == 0 and version != 0:
        raise Malformed(
            f"it is a big-endian GGUF file (version field {version:#010x}); only little-endian files load here"
        )
    if version not in SUPPORTED_VERSIONS:
        raise Malformed(f"GGUF version {version} is not supported (versions 2 and 3 are)")
    n_tensors = cur.u64("the tensor count")
    n_kv = cur.u64("the metadata key count")
    _check_counts(n_tensors, n_kv, cur)
    kvs: dict[str, RawValue] = {}
    for index in range(n_kv):
        key, value = _read_kv(cur, index)
        if key in kvs:
            raise Malformed(f"metadata key {key!r} appears twice")
        kvs[key] = value
    tensors: dict[str, RawTensor] = {}
    for index in range(n_tensors):
        tensor = _read_tensor_info(cur, index)
        if tensor.name in tensors:
            raise Malformed(f"tensor name {tensor.name} appears twice")
        tensors[tensor.name] = tensor
    return RawHeader(version, kvs, tuple(tensors.values()), cur.pos)


def _check_magic(cur: _Cursor) -> None:
    if cur.file_size == 0:
        raise Malformed("zero-byte file (an interrupted download or copy?)")
    if cur.have < min(4, cur.file_size):
        raise NeedBytes(4)
    head = bytes(cur.buf[: min(cur.have, 64)])
    if head[:4] != GGUF_MAGIC_BYTES:
        if cur.file_size < 4 and GGUF_MAGIC_BYTES.startswith(head):
            raise Malformed(
                f"the file ends at byte {cur.file_size}, inside its magic 'GGUF' (truncated download?)"
            )
        raise Malformed(_not_gguf_reason(head))
    cur.pos = 4


def _not_gguf_reason(head: bytes) -> str:
    shown = repr(head[:4])[1:]
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        return f"it is an old GGML/GGJT model (starts with {shown}); llama.cpp reads only GGUF, so get the GGUF version"
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the model; download the real file"
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype", b"<html", b"<?xml")):
        return "it is a web page, not a model (a failed or redirected download?)"
    if head[:4] == b"PK\x03\x04":
        return f"not a GGUF file (starts with {shown}, a zip archive; expected 'GGUF')"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "it is a safetensors file, not GGUF; convert it with llama.cpp's convert_hf_to_gguf.py"
    return f"not a GGUF file (starts with {shown}; expected 'GGUF')"


def _check_counts(n_tensors: int, n_kv: int, cur: _Cursor) -> None:
    if n_tensors * MIN_TENSOR_INFO_BYTES + n_kv * MIN_KV_BYTES <= cur.remaining():
        return
    if n_tensors > PLAUSIBLE_COUNT:
        raise Malformed(f"tensor count {n_tensors:,} is impossible for a {size_words(cur.file_size)} file")
    if n_kv > PLAUSIBLE_COUNT:
        raise Malformed(f"metadata key count {n_kv:,} is impossible for a {size_words(cur.file_size)} file")
    raise Malformed(
        f"the header lists {n_tensors:,} tensors and {n_kv:,} metadata keys, more than fit in the "
        f"{cur.file_size:,} bytes of the file (truncated download?)"
    )


def _read_kv(cur: _Cursor, index: int) -> tuple[str, RawValue]:
    start = cur.pos
    raw_key = cur.string(f"metadata key #{index}", MAX_KEY_BYTES)
    try:
        key = raw_key.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"metadata key #{index} at byte {start:,} is not valid UTF-8") from None
    if not key:
        raise Malformed(f"metadata key #{index} at byte {start:,} is empty")
    vtype = cur.u32(f"the value type of metadata key {key}")
    return key, RawValue(vtype, _read_value(cur, key, vtype))


def _read_value(cur: _Cursor, key: str, vtype: int) -> Scalar | ArrayValue:
    scalar = _SCALAR_STRUCTS.get(vtype)
    if scalar is not None:
        cur.need(scalar.size, f"the value of metadata key {key}")
        value = scalar.unpack_from(cur.buf, cur.pos)[0]
        cur.pos += scalar.size
        return value  # type: ignore[no-any-return]
    if vtype == VT.STRING:
        return cur.string(f"the metadata string {key}", MAX_STRING_BYTES).decode("utf-8", "replace")
    if vtype == VT.ARRAY:
        return _read_array(cur, key)
    raise Malformed(f"metadata key {key} has unknown value type {vtype}")


def _read_array(cur: _Cursor, key: str) -> ArrayValue:
    start = cur.pos
    elem_type = cur.u32(f"the element type of metadata array {key}")
    n = cur.u64(f"the length of metadata array {key}")
    if elem_type == VT.ARRAY:
        raise Malformed(f"metadata key {key} is an array of arrays, which llama.cpp cannot read")
    if elem_type == VT.STRING:
        cur.bound_count(n, 8, f"metadata array {key}", start)
        if n > MAX_WALKED_ELEMENTS:
            raise Malformed(
                f"metadata array {key} has {n:,} strings; at most {MAX_WALKED_ELEMENTS:,} make sense"
            )
        cur.skip_strings(n, f"metadata array {key}")
        return ArrayValue(elem_type, n, None)
    scalar = _SCALAR_STRUCTS.get(elem_type)
    if scalar is None:
        raise Malformed(f"metadata array {key} has unknown element type {elem_type}")
    cur.bound_count(n, scalar.size, f"metadata array {key}", start)
    cur.need(n * scalar.size, f"metadata array {key}")
    values = None
    if n <= SMALL_ARRAY_ELEMENTS:
        values = struct.unpack_from(f"<{n}{_SCALAR_FORMATS[elem_type]}", cur.buf, cur.pos)
    cur.pos += n * scalar.size  # larger numeric arrays (token types, scores) are skipped, not read
    return ArrayValue(elem_type, n, values)


def _read_tensor_info(cur: _Cursor, index: int) -> RawTensor:
    start = cur.pos
    raw_name = cur.string(f"the name of tensor #{index}", MAX_TENSOR_NAME_BYTES)
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"the name of tensor #{index} at byte {start:,} is not valid UTF-8") from None
    if not name:
        raise Malformed(f"the name of tensor #{index} at byte {start:,} is empty")
    n_dims = cur.u32(f"the dimension count of tensor {name}")
    if not 1 <= n_dims <= MAX_DIMS:
        raise Malformed(f"tensor {name} claims {n_dims:,} dimensions; GGUF tensors have 1 to {MAX_DIMS}")
    cur.need(8 * n_dims, f"the shape of tensor {name}")
    shape = struct.unpack_from(f"<{n_dims}Q", cur.buf, cur.pos)
    cur.pos += 8 * n_dims
    ggml_type = cur.u32(f"the type of tensor {name}")
    rel_offset = cur.u64(f"the data offset of tensor {name}")
    n_bytes = _tensor_bytes(name, shape, ggml_type)
    return RawTensor(name, ggml_type, tuple(shape), rel_offset, n_bytes)


def _tensor_bytes(name: str, shape: tuple[int, ...], ggml_type: int) -> int:
    shown = "×".join(f"{d:,}" for d in shape)
    if any(d == 0 for d in shape):
        raise Malformed(f"tensor {name} has an empty dimension (shape {shown})")
    if any(d >= 1 << 63 for d in shape):
        raise Malformed(f"tensor {name} has a negative dimension (shape {shown})")
    n_elements = 1
    for d in shape:
        n_elements *= d
    if n_elements >= 1 << 63:
        raise Malformed(f"tensor {name} has more than 2^63 elements (shape {shown})")
    sizes = QUANT_SIZES.get(ggml_type)
    if sizes is None:
        raise Malformed(f"unknown tensor type {ggml_type} for {name}")
    block_size, type_size = sizes
    if shape[0] % block_size:
        raise Malformed(
            f"tensor {name} has rows of {shape[0]:,} elements, not a multiple of the "
            f"{type_name(ggml_type)} block size {block_size}"
        )
    return n_elements // block_size * type_size


_STR = (frozenset({VT.STRING}), None)
_INT = (INTEGER_TYPES, None)
_INT_OR_INTS = (INTEGER_TYPES | {VT.ARRAY}, INTEGER_TYPES)  # per-layer head counts come as arrays
_KNOWN_KEYS: dict[str, tuple[frozenset[int], frozenset[int] | None]] = {
    "general.architecture": _STR, "general.name": _STR, "general.file_type": _INT,
    "general.alignment": (frozenset({VT.UINT32}), None),  # llama.cpp asserts on any other type
    "tokenizer.ggml.model": _STR, "tokenizer.chat_template": _STR,
    "tokenizer.ggml.bos_token_id": _INT, "tokenizer.ggml.eos_token_id": _INT,
    # llama.cpp reads these arrays through asserts and raw pointers: a wrong type is a native crash
    "tokenizer.ggml.tokens": (frozenset({VT.ARRAY}), frozenset({VT.STRING})),
    "tokenizer.ggml.merges": (frozenset({VT.ARRAY}), frozenset({VT.STRING})),
    "tokenizer.ggml.scores": (frozenset({VT.ARRAY}), frozenset({VT.FLOAT32})),
    "tokenizer.ggml.token_type": (frozenset({VT.ARRAY}), frozenset({VT.INT32})),
}  # fmt: skip
_KNOWN_ARCH_KEYS: dict[str, tuple[frozenset[int], frozenset[int] | None]] = {
    "block_count": _INT, "context_length": _INT, "embedding_length": _INT, "vocab_size": _INT,
    "attention.head_count": _INT_OR_INTS, "attention.head_count_kv": _INT_OR_INTS,
    "attention.key_length": _INT, "attention.sliding_window": _INT,
}  # fmt: skip


def _value_type_words(raw: RawValue) -> str:
    words = VT(raw.vtype).name.lower()
    if isinstance(raw.value, ArrayValue):
        words = f"array of {VT(raw.value.elem_type).name.lower()}"
    return ("an " if words[0] in "ai" else "a ") + words


def check_metadata(kvs: dict[str, RawValue]) -> int:
    """Return the alignment after checking the types of the keys llama.cpp reads unguarded."""
    arch_value = kvs.get("general.architecture")
    arch = arch_value.value if arch_value is not None and isinstance(arch_value.value, str) else ""
    expectations = dict(_KNOWN_KEYS)
    expectations.update({f"{arch}.{suffix}": want for suffix, want in _KNOWN_ARCH_KEYS.items()})
    for key, (types, elem_types) in expectations.items():
        raw = kvs.get(key)
        if raw is None:
            continue
        ok = raw.vtype in types
        if ok and isinstance(raw.value, ArrayValue):
            ok = elem_types is not None and raw.value.elem_type in elem_types
        if not ok:
            raise Malformed(
                f"metadata key {key} is {_value_type_words(raw)}, which llama.cpp cannot use there"
            )
    _check_token_arrays(kvs)
    alignment = kvs.get("general.alignment")
    if alignment is None:
        return int(C.GGUF_DEFAULT_ALIGNMENT)
    value = int(alignment.value)  # type: ignore[arg-type]
    if value <= 0 or value & (value - 1):
        raise Malformed(f"general.alignment is {value}; it must be a power of two")
    return value


def _check_token_arrays(kvs: dict[str, RawValue]) -> None:
    tokens = kvs.get("tokenizer.ggml.tokens")
    if tokens is None or not isinstance(tokens.value, ArrayValue):
        return
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        other = kvs.get(key)
        if (
            other is not None
            and isinstance(other.value, ArrayValue)
            and other.value.length != tokens.value.length
        ):
            raise Malformed(
                f"{key} has {other.value.length:,} entries but tokenizer.ggml.tokens has {tokens.value.length:,}"
            )
