"""Damaged copies of a real GGUF file, for reliability tests.

`damaged_variants(source, out_dir)` writes 150+ named variants of `source` (the bundled model):
truncations at many offsets, flipped and random bytes in the header, hostile counts and lengths,
wrong types, broken tensor layouts, and files that are not GGUF at all. Each file is the damaged
header followed by a sparse hole of the right length, so the whole set takes a few hundred MB of
writes and almost no extra disk.

`build_variants` returns the same set with `must_reject`: True where any correct validator must
refuse the file; False ("may load") where the damage can land somewhere harmless, such as the
text of one token. Pass `must_reject_only=True` to `damaged_variants` to get only the former.

The header is walked here by a small independent reader that trusts its input (the source is a
real model), so these tests do not lean on the validator they test.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from gguf.constants import GGML_QUANT_SIZES

QUANT_SIZES = {int(t): size for t, size in GGML_QUANT_SIZES.items()}
SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY, UINT32, UINT64, INT32, UINT8 = 8, 9, 4, 10, 5, 0
SEED = 20_241_123


class DamagedVariant(NamedTuple):
    name: str
    path: Path
    must_reject: bool


@dataclass(frozen=True)
class Field:
    """A span of header bytes and what it holds; `owner` is a key or a tensor index."""

    kind: str
    start: int
    end: int
    owner: str | int | None = None
    elem_type: int | None = None


@dataclass(frozen=True)
class TensorSlot:
    name: str
    start: int
    end: int
    dims: tuple[int, ...]
    ggml_type: int
    rel_offset: int


@dataclass(frozen=True)
class Layout:
    """The source's header bytes and where everything in them lives."""

    header: bytes  # the first data_offset bytes of the source
    file_size: int
    kvs: dict[str, tuple[int, int]]  # key -> (start, end) of its raw bytes
    tensors: tuple[TensorSlot, ...]
    fields: tuple[Field, ...]
    header_end: int
    data_offset: int

    def kv_raw(self, key: str) -> bytes:
        start, end = self.kvs[key]
        return self.header[start:end]

    def field(self, kind: str, owner: str | int | None = None) -> Field:
        return next(f for f in self.fields if f.kind == kind and (owner is None or f.owner == owner))


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def gstr(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return u64(len(raw)) + raw


def kv_raw(key: str | bytes, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + u32(vtype) + payload


def tensor_raw(
    name: str | bytes, dims: tuple[int, ...], ggml_type: int, rel_offset: int, n_dims: int | None = None
) -> bytes:
    count = len(dims) if n_dims is None else n_dims
    return gstr(name) + u32(count) + b"".join(u64(d) for d in dims) + u32(ggml_type) + u64(rel_offset)


def read_layout(source: Path) -> Layout:
    """Return the layout of a well-formed GGUF file (no validation: the source is trusted)."""
    with open(source, "rb") as handle:
        buf = handle.read(64 * 1024 * 1024)
    file_size = source.stat().st_size
    n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
    fields = [Field("magic", 0, 4), Field("version", 4, 8), Field("n_tensors", 8, 16), Field("n_kv", 16, 24)]
    pos, kvs, alignment = 24, {}, 32
    for _ in range(n_kv):
        start = pos
        key_len = struct.unpack_from("<Q", buf, pos)[0]
        key = buf[pos + 8 : pos + 8 + key_len].decode()
        fields += [Field("key_len", pos, pos + 8, key), Field("key", pos + 8, pos + 8 + key_len, key)]
        pos += 8 + key_len
        vtype = struct.unpack_from("<I", buf, pos)[0]
        fields.append(Field("vtype", pos, pos + 4, key))
        pos = _walk_value(buf, pos + 4, vtype, key, fields)
        kvs[key] = (start, pos)
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", buf, pos - 4)[0]
    tensors = []
    for index in range(n_tensors):
        start = pos
        name_len = struct.unpack_from("<Q", buf, pos)[0]
        name = buf[pos + 8 : pos + 8 + name_len].decode()
        fields += [Field("name_len", pos, pos + 8, index), Field("name", pos + 8, pos + 8 + name_len, index)]
        pos += 8 + name_len
        n_dims = struct.unpack_from("<I", buf, pos)[0]
        dims = struct.unpack_from(f"<{n_dims}Q", buf, pos + 4)
        fields += [Field("n_dims", pos, pos + 4, index), Field("dims", pos + 4, pos + 4 + 8 * n_dims, index)]
        pos += 4 + 8 * n_dims
        ggml_type, rel_offset = struct.unpack_from("<IQ", buf, pos)
        fields += [Field("ttype", pos, pos + 4, index), Field("offset", pos + 4, pos + 12, index)]
        pos += 12
        tensors.append(TensorSlot(name, start, pos, dims, ggml_type, rel_offset))
    data_offset = -(-pos // alignment) * alignment
    fields.append(Field("padding", pos, data_offset))
    return Layout(buf[:data_offset], file_size, kvs, tuple(tensors), tuple(fields), pos, data_offset)


def _walk_value(buf: bytes, pos: int, vtype: int, key: str, fields: list[Field]) -> int:
    if vtype in SCALAR_SIZES:
        fields.append(Field("scalar", pos, pos + SCALAR_SIZES[vtype], key))
        return pos + SCALAR_SIZES[vtype]
    if vtype == STRING:
        n = struct.unpack_from("<Q", buf, pos)[0]
        fields += [Field("str_len", pos, pos + 8, key), Field("str", pos + 8, pos + 8 + n, key)]
        return pos + 8 + n
    elem_type, n = struct.unpack_from("<IQ", buf, pos)
    fields += [Field("elem_type", pos, pos + 4, key), Field("count", pos + 4, pos + 12, key, elem_type)]
    start = pos = pos + 12
    if elem_type == STRING:
        for _ in range(n):
            pos += 8 + struct.unpack_from("<Q", buf, pos)[0]
    else:
        pos += n * SCALAR_SIZES[elem_type]
    fields.append(Field("elements", start, pos, key, elem_type))
    return pos


def tensor_bytes(dims: tuple[int, ...], ggml_type: int) -> int | None:
    """Return a tensor's byte size, or None if llama.cpp must refuse the shape or type."""
    if ggml_type not in QUANT_SIZES or not 1 <= len(dims) <= 4 or any(d == 0 or d >= 1 << 63 for d in dims):
        return None
    block, type_size = QUANT_SIZES[ggml_type]
    n = 1
    for d in dims:
        n *= d
    if n >= 1 << 63 or dims[0] % block:
        return None
    return n // block * type_size


class _Writer:
    """Writes variants into `out_dir` and remembers them in order."""

    def __init__(self, layout: Layout, out_dir: Path) -> None:
        self.layout = layout
        self.out_dir = out_dir
        self.variants: list[DamagedVariant] = []

    def add(self, name: str, head: bytes, total_size: int | None, must_reject: bool) -> None:
        """Write `head` then a hole up to `total_size` (default: the source's data size after it)."""
        if total_size is None:
            total_size = len(head) + self.layout.file_size - self.layout.data_offset
        if any(v.name == name for v in self.variants):
            name = f"{name}-{len(self.variants)}"
        path = self.out_dir / f"{len(self.variants):03d}-{name.replace('/', '-')}.gguf"
        with open(path, "wb") as handle:
            handle.write(head[:total_size])
            if total_size > len(head):
                handle.truncate(total_size)
        self.variants.append(DamagedVariant(name, path, must_reject))

    def patched(self, name: str, at: int, new: bytes, must_reject: bool) -> None:
        """Add the source header with `new` written over the bytes at `at`."""
        head = self.layout.header
        self.add(name, head[:at] + new + head[at + len(new) :], self.layout.file_size, must_reject)

    def rebuilt(self, name: str, must_reject: bool = True, **changes: object) -> None:
        """Add a header re-assembled from (changed) key/value and tensor-info records."""
        self.add(name, assemble(self.layout, **changes), None, must_reject)  # type: ignore[arg-type]


def assemble(
    layout: Layout,
    *,
    kvs: list[bytes] | None = None,
    tensors: list[bytes] | None = None,
    version: bytes = u32(3),
    n_kv: int | None = None,
    n_tensors: int | None = None,
) -> bytes:
    """Return a header (padded to 32 bytes) built from raw records; defaults are the source's."""
    if kvs is None:
        kvs = [layout.kv_raw(key) for key in layout.kvs]
    if tensors is None:
        tensors = [layout.header[t.start : t.end] for t in layout.tensors]
    head = b"GGUF" + version + u64(len(tensors) if n_tensors is None else n_tensors)
    head += u64(len(kvs) if n_kv is None else n_kv) + b"".join(kvs) + b"".join(tensors)
    return head + bytes(-len(head) % 32)


def build_variants(source: Path, out_dir: Path) -> list[DamagedVariant]:
    """Return 150+ damaged variants of `source` written into `out_dir`, each with `must_reject`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = read_layout(source)
    writer = _Writer(layout, out_dir)
    _truncations(writer)
    _flips(writer, random.Random(SEED))
    _counts_and_lengths(writer)
    _types_and_keys(writer)
    _tensor_layouts(writer)
    _not_gguf(writer, random.Random(SEED + 1))
    return writer.variants


def damaged_variants(
    source: Path, out_dir: Path, *, must_reject_only: bool = False
) -> list[tuple[str, Path]]:
    """Return (name, path) of damaged variants of `source`; see `build_variants`."""
    return [
        (v.name, v.path) for v in build_variants(source, out_dir) if v.must_reject or not must_reject_only
    ]


def _truncations(w: _Writer) -> None:
    lay = w.layout
    first_key = next(iter(lay.kvs))
    tokens = lay.field("elements", "tokenizer.ggml.tokens")
    first, middle, last = lay.tensors[0], lay.tensors[len(lay.tensors) // 2], lay.tensors[-1]
    points = {
        "in-magic": 2, "after-magic": 4, "in-version": 6, "in-tensor-count": 12, "in-kv-count": 20,
        "after-counts": 24, "in-first-key-length": 28, "in-first-key": lay.field("key", first_key).start + 5,
        "in-first-value-type": lay.field("vtype", first_key).start + 2,
        "in-string-length": lay.field("str_len", first_key).start + 3,
        "in-string-value": lay.field("str", first_key).start + 2,
        "between-keys": lay.kvs[first_key][1],
        "in-array-type": lay.field("elem_type", "general.languages").start + 1,
        "in-array-length": lay.field("count", "general.languages").start + 5,
        "in-array-element": lay.field("elements", "general.languages").start + 9,
        "in-token-array-start": tokens.start + 3, "in-token-array-third": tokens.start + (tokens.end - tokens.start) // 3,
        "in-token-array-end": tokens.end - 3,
        "in-token-types": _middle(lay.field("elements", "tokenizer.ggml.token_type")),
        "in-merges": _middle(lay.field("elements", "tokenizer.ggml.merges")),
        "in-chat-template": lay.field("str", "tokenizer.chat_template").start + 100,
        "at-tensor-infos": first.start, "in-first-tensor-name": first.start + 12,
        "in-first-tensor-dims": lay.field("dims", 0).start + 9, "in-first-tensor-type": lay.field("ttype", 0).start + 2,
        "in-first-tensor-offset": lay.field("offset", 0).start + 5, "at-middle-tensor-info": middle.start,
        "in-middle-tensor-info": middle.start + 20, "in-last-tensor-offset": last.end - 4,
        "one-byte-before-header-end": lay.header_end - 1, "at-header-end": lay.header_end,
        "in-first-tensor-data": lay.data_offset + 1000,
        "at-second-tensor": lay.data_offset + lay.tensors[1].rel_offset, "mid-data": lay.file_size // 2,
        "at-last-tensor": lay.data_offset + last.rel_offset, "one-byte-short": lay.file_size - 1,
    }  # fmt: skip
    for name, at in points.items():
        w.add(f"truncated/{name}", lay.header, at, True)
    # The source may have no padding after its tensor infos: one more key of the right length
    # leaves 16 bytes of it, and the cut lands inside them.
    extra = kv_raw("edgeapp.pad", STRING, gstr("x" * ((16 - lay.header_end - 31) % 32)))
    head = assemble(lay, kvs=[lay.kv_raw(k) for k in lay.kvs] + [extra])
    assert (lay.header_end + len(extra)) % 32 == 16
    w.add("truncated/in-alignment-padding", head, lay.header_end + len(extra) + 8, True)
    for name, at in {
        "tokens": tokens.start + 5000,
        "tensor-infos": middle.start,
        "data": lay.data_offset + 4096,
    }.items():
        w.add(f"zero-filled/from-{name}", lay.header[:at], lay.file_size, name != "data")


def _middle(f: Field) -> int:
    return (f.start + f.end) // 2


def _flip_must_reject(lay: Layout, f: Field, head: bytes) -> bool:
    value = int.from_bytes(head[f.start : f.end], "little")
    left = lay.file_size - f.end
    if f.kind in ("magic", "offset"):
        return True  # llama.cpp needs each tensor exactly where the one before it ends
    if f.kind == "version":
        return value not in (2, 3)
    if f.kind in ("n_tensors", "n_kv"):
        n_t, n_kv = struct.unpack_from("<QQ", head, 8)
        return n_t * 32 + n_kv * 13 > lay.file_size - 24
    if f.kind in ("key_len", "str_len"):
        return value > left
    if f.kind == "name_len":
        return value > left or value >= 64
    if f.kind == "vtype":
        return value > 12
    if f.kind == "elem_type":
        return value > 12 or value == ARRAY
    if f.kind == "count":
        return value * (8 if f.elem_type == STRING else SCALAR_SIZES[f.elem_type or 0]) > left
    if f.kind == "n_dims":
        return not 1 <= value <= 4
    if f.kind in ("dims", "ttype"):
        index = f.owner
        assert isinstance(index, int)
        slot = lay.tensors[index]
        dims_field = lay.field("dims", index)
        dims = struct.unpack_from(f"<{len(slot.dims)}Q", head, dims_field.start)
        ggml_type = struct.unpack_from("<I", head, lay.field("ttype", index).start)[0]
        new, old = tensor_bytes(dims, ggml_type), tensor_bytes(slot.dims, slot.ggml_type)
        assert old is not None
        if new is None:
            return True
        if index == len(lay.tensors) - 1:
            return new > old  # a smaller last tensor still fits in the file
        return -(-new // 32) != -(-old // 32)
    return False  # text of keys, names and strings, scalar values, array elements, padding


def _flips(w: _Writer, rng: random.Random) -> None:
    lay = w.layout
    big = {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"}
    kv_fields = [
        f for f in lay.fields if isinstance(f.owner, str) and not (f.kind == "elements" and f.owner in big)
    ]
    regions = {
        "counts": ([f for f in lay.fields if f.end <= 24], 6),
        "metadata": (kv_fields, 12),
        "token-arrays": ([f for f in lay.fields if f.kind == "elements" and f.owner in big], 6),
        "tensor-infos": ([f for f in lay.fields if isinstance(f.owner, int)], 16),
    }
    for region, (fields, count) in regions.items():
        weights = [f.end - f.start for f in fields]
        for _ in range(count):
            f = rng.choices(fields, weights)[0]
            at = rng.randrange(f.start, f.end)
            head = bytearray(lay.header)
            head[at] ^= rng.randrange(1, 256)
            w.add(
                f"flipped/{region}-{f.kind}-{at}",
                bytes(head),
                lay.file_size,
                _flip_must_reject(lay, f, bytes(head)),
            )
    for index in range(6):
        at = 0 if index == 0 else rng.randrange(24, lay.header_end - 32)
        head = lay.header[:at] + rng.randbytes(24) + lay.header[at + 24 :]
        w.add(f"random-bytes/at-{at}", head, lay.file_size, at == 0)


def _counts_and_lengths(w: _Writer) -> None:
    lay = w.layout
    n_tensors, n_kv = len(lay.tensors), len(lay.kvs)
    for label, value in (
        ("2^63-1", 2**63 - 1),
        ("2^64-1", 2**64 - 1),
        ("1e9", 10**9),
        ("plus-one", n_tensors + 1),
    ):
        w.rebuilt(f"huge-count/tensors-{label}", n_tensors=value)
    w.rebuilt("count/tensors-minus-one", False, n_tensors=n_tensors - 1)
    for label, value in (
        ("2^63-1", 2**63 - 1),
        ("2^64-1", 2**64 - 1),
        ("2^40", 2**40),
        ("plus-one", n_kv + 1),
    ):
        w.rebuilt(f"huge-count/kv-{label}", n_kv=value)
    w.rebuilt("count/kv-minus-one", False, n_kv=n_kv - 1)
    first_key = next(iter(lay.kvs))
    for label, value in (("2^40", 2**40), ("2^63", 2**63)):
        w.patched(f"huge-length/first-key-{label}", lay.field("key_len", first_key).start, u64(value), True)
    arch_len = lay.field("str_len", "general.architecture").start
    for label, value in (("2^31-1", 2**31 - 1), ("2^64-1", 2**64 - 1)):
        w.patched(f"huge-length/architecture-string-{label}", arch_len, u64(value), True)
    w.patched("length/name-string-plus-1000", lay.field("str_len", "general.name").start, u64(1031), False)
    w.patched(
        "huge-length/chat-template-2^40",
        lay.field("str_len", "tokenizer.chat_template").start,
        u64(2**40),
        True,
    )
    for key, label, value in (
        ("tokenizer.ggml.tokens", "tokens", 2**40), ("tokenizer.ggml.tokens", "tokens", 2**24 + 1),
        ("tokenizer.ggml.token_type", "token-types", 2**40), ("tokenizer.ggml.token_type", "token-types", 2**62),
        ("tokenizer.ggml.merges", "merges", 2**40),
    ):  # fmt: skip
        w.patched(f"huge-array/{label}-{value}", lay.field("count", key).start, u64(value), True)


def _with_kv(lay: Layout, key: str, raw: bytes | None) -> list[bytes]:
    """Return the source's key/value records with `key` replaced by `raw` (dropped if None)."""
    records = [(raw if k == key else lay.kv_raw(k)) for k in lay.kvs]
    return [r for r in records if r is not None]


def _types_and_keys(w: _Writer) -> None:
    lay = w.layout
    vtype_at = lay.field("vtype", "general.architecture").start
    for value in (13, 99, 2**31):
        w.patched(f"wrong-type/architecture-value-type-{value}", vtype_at, u32(value), True)
    elem_at = lay.field("elem_type", "tokenizer.ggml.tokens").start
    w.patched("wrong-type/token-array-element-type-13", elem_at, u32(13), True)
    w.patched("wrong-type/token-array-of-arrays", elem_at, u32(ARRAY), True)
    n_vocab = _count(lay, "tokenizer.ggml.tokens")
    int_array = u32(INT32) + u64(n_vocab) + bytes(4 * n_vocab)
    replacements = {
        "tokens-as-int32": ("tokenizer.ggml.tokens", kv_raw("tokenizer.ggml.tokens", ARRAY, int_array)),
        "token-types-as-uint8": ("tokenizer.ggml.token_type", kv_raw("tokenizer.ggml.token_type", ARRAY, u32(UINT8) + u64(n_vocab) + bytes(n_vocab))),
        "token-types-one-short": ("tokenizer.ggml.token_type", kv_raw("tokenizer.ggml.token_type", ARRAY, u32(INT32) + u64(n_vocab - 1) + bytes(4 * n_vocab - 4))),
        "merges-as-int32": ("tokenizer.ggml.merges", kv_raw("tokenizer.ggml.merges", ARRAY, int_array)),
        "architecture-as-uint32": ("general.architecture", kv_raw("general.architecture", UINT32, u32(3))),
        "block-count-as-string": ("llama.block_count", kv_raw("llama.block_count", STRING, gstr("30"))),
        "file-type-as-string": ("general.file_type", kv_raw("general.file_type", STRING, gstr("Q4_1"))),
        "block-count-0": ("llama.block_count", kv_raw("llama.block_count", UINT32, u32(0))),
        "block-count-29": ("llama.block_count", kv_raw("llama.block_count", UINT32, u32(29))),
        "block-count-2^32": ("llama.block_count", kv_raw("llama.block_count", UINT64, u64(2**32))),
        "key-not-utf8": ("general.type", kv_raw(b"general.\xff\xfe", STRING, gstr("model"))),
    }  # fmt: skip
    for label, (key, raw) in replacements.items():
        w.rebuilt(f"wrong-value/{label}", kvs=_with_kv(lay, key, raw))
    for key in (
        "general.architecture",
        "llama.block_count",
        "llama.embedding_length",
        "llama.context_length",
    ):
        w.rebuilt(f"missing-key/{key}", kvs=_with_kv(lay, key, None))
    all_kvs = [lay.kv_raw(k) for k in lay.kvs]
    w.rebuilt("duplicate-key/general.architecture", kvs=all_kvs + [lay.kv_raw("general.architecture")])
    for label, payload in (
        ("0", (UINT32, u32(0))), ("3", (UINT32, u32(3))), ("48", (UINT32, u32(48))), ("4096", (UINT32, u32(4096))),
        ("as-uint64", (UINT64, u64(32))), ("as-string", (STRING, gstr("32"))),
    ):  # fmt: skip
        w.rebuilt(f"wrong-alignment/{label}", kvs=all_kvs + [kv_raw("general.alignment", *payload)])
    for label, version in (("0", 0), ("1", 1), ("4", 4), ("99", 99), ("big-endian", 3 << 24)):
        w.patched(f"version/{label}", 4, u32(version), True)


def _count(lay: Layout, key: str) -> int:
    return int(struct.unpack_from("<Q", lay.header, lay.field("count", key).start)[0])


def _tensor_layouts(w: _Writer) -> None:
    lay = w.layout
    t1, t2, last = lay.tensors[1], lay.tensors[2], lay.tensors[-1]

    def with_tensor(index: int, raw: bytes) -> list[bytes]:
        return [raw if i == index else lay.header[t.start : t.end] for i, t in enumerate(lay.tensors)]

    def variant(label: str, index: int, **fields: object) -> None:
        slot = lay.tensors[index]
        values: dict[str, object] = {
            "name": slot.name, "dims": slot.dims, "ggml_type": slot.ggml_type, "rel_offset": slot.rel_offset
        }  # fmt: skip
        values.update(fields)
        w.rebuilt(f"tensor/{label}", tensors=with_tensor(index, tensor_raw(**values)))  # type: ignore[arg-type]

    variant("n-dims-0", 2, dims=(), n_dims=0)
    variant("n-dims-5", 2, dims=(*t2.dims, 1, 1, 1))
    variant("n-dims-9", 2, dims=(*t2.dims, 1, 1, 1, 1, 1, 1, 1))
    variant("zero-dim", 2, dims=(t2.dims[0], 0))
    variant("row-not-multiple-of-block", 2, dims=(t2.dims[0] - 1, t2.dims[1]))
    variant("element-count-overflow", 2, dims=(2**32, 2**32))
    variant("negative-dim", 2, dims=(t2.dims[0], 2**64 - 5))
    variant("huge-dim", 2, dims=(t2.dims[0], 2**40))
    for ggml_type in (240, 4, 2**31):
        variant(f"unknown-type-{ggml_type}", 0, ggml_type=ggml_type)
    variant("type-changed-size", 2, ggml_type=8)
    variant("misaligned-offset", 1, rel_offset=t1.rel_offset + 4)
    variant("offset-100", 1, rel_offset=100)
    variant("overlapping", 2, rel_offset=t1.rel_offset)
    variant("gap-before", 2, rel_offset=t2.rel_offset + 32)
    variant("offset-past-end", len(lay.tensors) - 1, rel_offset=2**40)
    variant(
        "last-tensor-larger",
        len(lay.tensors) - 1,
        dims=(last.dims[0], last.dims[-1] * 2) if len(last.dims) > 1 else (last.dims[0] * 2,),
    )
    variant("duplicate-name", 2, name=t1.name)
    variant("name-64-bytes", 2, name="blk.0." + "x" * 58)
    variant("name-not-utf8", 2, name=b"blk.0.\xff\xfe")
    beyond = [t for t in lay.tensors if t.name.startswith("blk.29.")]
    renamed = [
        tensor_raw(t.name.replace("blk.29.", "blk.30."), t.dims, t.ggml_type, t.rel_offset) if t in beyond
        else lay.header[t.start : t.end]
        for t in lay.tensors
    ]  # fmt: skip
    w.rebuilt("tensor/layer-beyond-block-count", tensors=renamed)
    swapped = [lay.header[t.start : t.end] for t in lay.tensors]
    swapped[1], swapped[2] = swapped[2], swapped[1]
    w.rebuilt("tensor/infos-out-of-order", tensors=swapped)


def _not_gguf(w: _Writer, rng: random.Random) -> None:
    lay = w.layout
    samples = {
        "zero-bytes": b"", "one-byte": b"G", "three-bytes": b"GGU", "magic-only": b"GGUF",
        "counts-only": lay.header[:24], "text": b"This is not a model.\n" * 200,
        "html-error-page": b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n",
        "git-lfs-pointer": b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 98362432\n",
        "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + rng.randbytes(4000),
        "gzip": b"\x1f\x8b\x08\x00" + rng.randbytes(4000), "random": rng.randbytes(65536),
        "ggml-magic": b"lmgg" + rng.randbytes(4000), "ggjt-magic": b"tjgg\x03\x00\x00\x00" + rng.randbytes(4000),
        "ggmf-magic": b"fmgg\x01\x00\x00\x00" + rng.randbytes(4000),
        "safetensors": u64(40) + b'{"__metadata__":{"format":"pt"}}        ' + bytes(1000),
    }  # fmt: skip
    for name, data in samples.items():
        w.add(f"not-gguf/{name}", data, len(data), True)
    directory = w.out_dir / "x.gguf"
    directory.mkdir(exist_ok=True)
    w.variants.append(DamagedVariant("not-gguf/directory", directory, True))
