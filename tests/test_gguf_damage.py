"""Every damaged variant of the bundled model parses or fails with one plain CorruptModelFile."""

from __future__ import annotations

import collections
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from edgeapp.errors import CorruptModelFile
from edgeapp.gguf_file import read_header
from tests.gguf_damage import DamagedVariant, build_variants, damaged_variants
from tests.test_gguf_file import MODEL

HANG_GUARD_S = 30  # a parse takes milliseconds; this only turns a hang into a failure


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[DamagedVariant]]:
    out_dir = tmp_path_factory.mktemp("damaged")
    yield build_variants(MODEL, out_dir)
    shutil.rmtree(out_dir)  # a few hundred MB of headers; the holes cost nothing


class Hang(Exception):
    pass


def _raise_hang(signum: int, frame: FrameType | None) -> None:
    raise Hang()


def _outcome(path: Path) -> str | None:
    """Return None if the file parsed, the reason if it was refused; anything else propagates."""
    previous = signal.signal(signal.SIGALRM, _raise_hang)
    signal.setitimer(signal.ITIMER_REAL, HANG_GUARD_S)
    try:
        read_header(path)
        return None
    except CorruptModelFile as error:
        assert "\n" not in str(error) and error.reason
        return error.reason
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_there_are_enough_variants_of_every_kind(variants: list[DamagedVariant]) -> None:
    names = [v.name for v in variants]
    assert len(names) >= 100 and len(set(names)) == len(names)
    kinds = collections.Counter(name.split("/")[0] for name in names)
    assert kinds["truncated"] >= 30 and kinds["flipped"] >= 30 and kinds["not-gguf"] >= 10
    for kind in (
        "huge-count",
        "huge-length",
        "huge-array",
        "wrong-type",
        "wrong-alignment",
        "version",
        "tensor",
    ):
        assert kinds[kind] >= 2, kind
    assert sum(v.must_reject for v in variants) >= 100


def test_every_variant_is_really_damaged(variants: list[DamagedVariant]) -> None:
    original = MODEL.read_bytes()[: 2 * 1024 * 1024]
    for variant in variants:
        if variant.path.is_dir():
            continue
        size = variant.path.stat().st_size
        with open(variant.path, "rb") as handle:
            head = handle.read(len(original))
        assert size != MODEL.stat().st_size or head != original, variant.name


def test_every_variant_parses_or_is_refused_plainly(variants: list[DamagedVariant]) -> None:
    accepted_but_must_reject = []
    for variant in variants:
        try:
            reason = _outcome(variant.path)
        except Hang:
            pytest.fail(f"{variant.name}: no answer within {HANG_GUARD_S} s")
        except Exception as error:  # noqa: BLE001 - any other exception is the bug under test
            pytest.fail(f"{variant.name}: {type(error).__name__}: {error}")
        if reason is None and variant.must_reject:
            accepted_but_must_reject.append(variant.name)
    assert accepted_but_must_reject == []


def test_reasons_say_what_is_wrong(variants: list[DamagedVariant]) -> None:
    by_name = {v.name: v.path for v in variants}
    expected = {
        "not-gguf/zero-bytes": "zero-byte file",
        "not-gguf/zip": "not a GGUF file (starts with 'PK\\x03\\x04'",
        "not-gguf/ggjt-magic": "old GGML/GGJT model",
        "not-gguf/git-lfs-pointer": "Git LFS pointer",
        "not-gguf/directory": "is a directory",
        "truncated/mid-data": "(truncated download?)",
        "huge-count/tensors-2^63-1": "tensor count 9,223,372,036,854,775,807 is impossible for a 98 MB file",
        "huge-length/architecture-string-2^31-1": "claims 2,147,483,647 bytes but only 98,362,368 remain",
        "tensor/unknown-type-240": "unknown tensor type 240 for token_embd.weight",
        "tensor/offset-100": "blk.0.attn_norm.weight offset 100 is not a multiple of the alignment 32",
        "wrong-alignment/3": "general.alignment is 3; it must be a power of two",
        "version/99": "GGUF version 99 is not supported (versions 2 and 3 are)",
        "missing-key/llama.block_count": "llama.block_count is missing",
        "tensor/n-dims-9": "claims 9 dimensions",
    }
    for name, words in expected.items():
        reason = _outcome(by_name[name])
        assert reason is not None and words in reason, (name, reason)


def test_damaged_variants_gives_names_and_paths(tmp_path: Path) -> None:
    try:
        pairs = damaged_variants(MODEL, tmp_path, must_reject_only=True)
        assert len(pairs) >= 100
        assert all(isinstance(name, str) and path.exists() for name, path in pairs)
        assert "flipped/token-arrays" not in " ".join(name for name, _ in pairs)  # those may load
    finally:
        shutil.rmtree(tmp_path)
