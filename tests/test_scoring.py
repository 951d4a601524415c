"""ScoreText in a real engine on the bundled model: llama-perplexity's protocol, KLD, greedy answers."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeapp.bench.text import load_text
from edgeapp.engine.client import EngineClient
from edgeapp.engine.protocol import ChatMessage, LoadModel, Progress, ScoreText, TextScore
from edgeapp.errors import EngineError

N_CTX = 64
TEXT = load_text().text


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, bundled_path: Path) -> Iterator[EngineClient]:
    """One engine with the bundled model loaded (context 128), shared by this module's tests."""
    root = tmp_path_factory.mktemp("scoring")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("CONFIG", "DATA", "CACHE"):
            patch.setenv(f"EDGEAPP_{name}_DIR", str(root / name.lower()))
        client = EngineClient()
        client.start()
        # One thread: on a shared 2-core machine, OpenMP threads spinning at barriers crawl.
        client.load(LoadModel(path=str(bundled_path), n_ctx=2 * N_CTX, threads=1))
        try:
            yield client
        finally:
            client.close()


def _score(engine: EngineClient, **fields: object) -> tuple[TextScore, list[Progress]]:
    request = ScoreText(**{"text": TEXT, "n_ctx": N_CTX, "max_chunks": 2, **fields})  # type: ignore[arg-type]
    progress: list[Progress] = []
    score = None
    for event in engine.score(request):
        if isinstance(event, Progress):
            progress.append(event)
        else:
            score = event
    assert isinstance(score, TextScore)
    return score, progress


def test_scores_the_second_half_of_each_chunk(engine: EngineClient) -> None:
    score, progress = _score(engine)
    # llama-perplexity scores positions n_ctx/2 … n_ctx-2 of every chunk (each predicting the next token).
    assert score.chunks == 2
    assert score.tokens_scored == 2 * (N_CTX - 1 - N_CTX // 2)
    assert score.text_tokens > 20_000  # the shipped evaluation text is long enough
    assert score.ppl == pytest.approx(math.exp(score.nll_sum / score.tokens_scored))
    assert 1.0 < score.ppl < 200.0
    assert 0.0 < score.ppl_stderr < score.ppl
    assert score.kld_mean is None and score.top1_agreement is None
    assert [p.fraction for p in progress] == [0.5, 1.0]


def test_batch_size_does_not_change_the_result(engine: EngineClient) -> None:
    """Several decodes per chunk must map logits to the same tokens as one decode.

    llama.cpp switches matmul kernels with the batch size, which moves PPL by up to about 1% over
    these 62 tokens; a row-to-token mapping off by one position multiplies it several times.
    """
    whole, _ = _score(engine, n_batch=N_CTX)
    for n_batch in (N_CTX // 2, 7):
        split, _ = _score(engine, n_batch=n_batch)
        assert split.tokens_scored == whole.tokens_scored
        assert split.ppl == pytest.approx(whole.ppl, rel=3e-2)


def test_reference_against_itself(engine: EngineClient, tmp_path: Path) -> None:
    logprobs = tmp_path / "base.logprobs"
    base, _ = _score(engine, save_logprobs=str(logprobs))
    # llama.cpp's --kl-divergence-base layout: magic, n_ctx, n_vocab, n_chunk, tokens, then per scored
    # token 2 float32 + n_vocab uint16 (padded to an even count).
    head = logprobs.read_bytes()[:20]
    assert head[:8] == b"_logits_"
    n_ctx, n_vocab, n_chunks = struct.unpack("<Iii", head[8:])
    assert (n_ctx, n_chunks) == (N_CTX, 2)
    width = 2 * ((n_vocab + 1) // 2) + 4
    assert logprobs.stat().st_size == 20 + 4 * N_CTX * 2 + base.tokens_scored * width * 2
    same, _ = _score(engine, reference_logprobs=str(logprobs))
    assert same.ppl == base.ppl
    assert same.top1_agreement == 1.0
    assert same.kld_mean is not None and abs(same.kld_mean) < 1e-3  # only the uint16 rounding remains
    assert same.kld_p99 is not None and same.kld_p99 < 1e-3
    assert same.ppl_base == pytest.approx(base.ppl, rel=1e-3)
    assert same.ln_ppl_ratio is not None and abs(same.ln_ppl_ratio) < 1e-3


def test_greedy_answer_is_deterministic(engine: EngineClient) -> None:
    messages = (ChatMessage("user", "Name three colours."),)
    first, _ = _score(engine, max_chunks=1, greedy_messages=messages, greedy_max_tokens=12)
    second, _ = _score(engine, max_chunks=1, greedy_messages=messages, greedy_max_tokens=12)
    assert 1 <= len(first.greedy_tokens) <= 12
    assert first.greedy_tokens == second.greedy_tokens


def test_refusals_leave_the_engine_alive(engine: EngineClient, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="needs at least"):
        _score(engine, text="far too short")
    with pytest.raises(EngineError, match="loaded context"):
        _score(engine, n_ctx=64 * N_CTX)
    other = tmp_path / "other.logprobs"
    _score(engine, n_ctx=N_CTX // 2, max_chunks=1, save_logprobs=str(other))
    with pytest.raises(EngineError, match="context"):
        _score(engine, reference_logprobs=str(other))
    junk = tmp_path / "junk"
    junk.write_bytes(b"not log-probabilities at all")
    with pytest.raises(EngineError, match="not a file of reference log-probabilities"):
        _score(engine, reference_logprobs=str(junk))
    score, _ = _score(engine, max_chunks=1)
    assert score.chunks == 1
