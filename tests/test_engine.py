"""The engine process on the real bundled model: load, stream, cancel, crash, quantize, dry run."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from edgeapp.engine.client import EngineClient
from edgeapp.engine.protocol import (
    ChatMessage,
    DryRun,
    Finished,
    Generate,
    LoadModel,
    Quantize,
    SamplingSettings,
    Tokens,
)
from edgeapp.errors import EngineCrashed, EngineError

GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)


@pytest.fixture(scope="module")
def engine(bundled_path: Path):
    with EngineClient() as client:
        client.load(LoadModel(path=str(bundled_path), n_ctx=512))
        yield client


def _run(client: EngineClient, request: Generate) -> tuple[list[Tokens], Finished]:
    batches, finished = [], None
    for event in client.generate(request):
        if isinstance(event, Tokens):
            batches.append(event)
        else:
            finished = event
    assert finished is not None
    return batches, finished


def test_ready_reports_the_cpu_build_and_a_baseline(engine: EngineClient) -> None:
    assert engine.ready is not None
    assert engine.ready.gpu_offload_supported is False  # this machine's llama.cpp has no GPU backend
    assert engine.ready.baseline_rss_bytes > 10 * 2**20
    assert engine.loaded is not None and engine.loaded.n_layers == 30
    assert engine.loaded.has_chat_template


def test_chat_reply_streams_in_batches_and_reports_timings(engine: EngineClient) -> None:
    request = Generate(messages=(ChatMessage("user", "Name three colors."),), max_tokens=40, sampling=GREEDY)
    batches, finished = _run(engine, request)
    stats = finished.stats
    assert "".join(b.text for b in batches) == stats.text
    assert sum(b.n_tokens for b in batches) == stats.gen_tokens
    assert stats.gen_tokens > 0 and stats.text.strip()
    assert stats.prompt_tokens > 5
    assert 0 < stats.ttft_s <= stats.total_s
    assert stats.gen_tps > 0 and stats.prompt_tps > 0


def test_same_seed_and_settings_give_the_same_text(engine: EngineClient) -> None:
    sampling = SamplingSettings(temperature=0.8, seed=1234)
    request = Generate(prompt="The old lighthouse keeper", max_tokens=24, sampling=sampling)
    first = _run(engine, request)[1].stats.text
    second = _run(engine, request)[1].stats.text
    other = _run(
        engine,
        Generate(
            prompt="The old lighthouse keeper",
            max_tokens=24,
            sampling=SamplingSettings(temperature=0.8, seed=99),
        ),
    )[1].stats.text
    assert first == second
    assert other != first


def test_max_tokens_and_ignore_eos_give_exactly_n_tokens(engine: EngineClient) -> None:
    _, finished = _run(engine, Generate(prompt="Hi", max_tokens=17, ignore_eos=True, sampling=GREEDY))
    assert finished.stats.gen_tokens == 17
    assert finished.stats.stop_reason == "length"


def test_stop_string_ends_the_reply_without_including_it(engine: EngineClient) -> None:
    request = Generate(prompt="1, 2, 3, 4, 5, 6,", max_tokens=40, stop=(" 9",), sampling=GREEDY)
    _, finished = _run(engine, request)
    assert finished.stats.stop_reason == "stop"
    assert " 9" not in finished.stats.text
    assert "8" in finished.stats.text


def test_second_turn_reuses_the_cached_prompt_prefix(engine: EngineClient) -> None:
    first = (ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello."))
    reply = _run(engine, Generate(messages=first, max_tokens=8, sampling=GREEDY))[1].stats
    second = first + (ChatMessage("assistant", reply.text), ChatMessage("user", "Again."))
    stats = _run(engine, Generate(messages=second, max_tokens=8, sampling=GREEDY))[1].stats
    assert stats.reused_prompt_tokens >= reply.prompt_tokens - 1


def test_cancel_from_another_thread_stops_generation(engine: EngineClient) -> None:
    seen: list[int] = []
    finished = None
    for event in engine.generate(
        Generate(prompt="Count:", max_tokens=5000, ignore_eos=True, sampling=GREEDY)
    ):
        if isinstance(event, Tokens):
            seen.append(event.n_tokens)
            if len(seen) == 1:
                threading.Timer(0.05, engine.cancel).start()
        else:
            finished = event
    assert finished is not None and finished.stats.stop_reason == "cancelled"
    assert finished.stats.gen_tokens < 5000


def test_prompt_longer_than_the_context_is_a_clear_error_and_the_engine_survives(
    engine: EngineClient,
) -> None:
    with pytest.raises(EngineError, match="context holds 512"):
        list(engine.generate(Generate(prompt="word " * 800, max_tokens=4)))
    _, finished = _run(engine, Generate(prompt="Still alive?", max_tokens=4, sampling=GREEDY))
    assert finished.stats.gen_tokens > 0


def test_killing_the_engine_mid_reply_raises_engine_crashed(bundled_path: Path) -> None:
    client = EngineClient()
    client.start()
    try:
        client.load(LoadModel(path=str(bundled_path), n_ctx=512))
        with pytest.raises(EngineCrashed) as caught:
            for event in client.generate(Generate(prompt="Story:", max_tokens=5000, ignore_eos=True)):
                if isinstance(event, Tokens):
                    os.kill(client.pid, signal.SIGKILL)
        assert "SIGKILL" in str(caught.value)
        assert caught.value.exitcode == -signal.SIGKILL
        assert not client.alive
    finally:
        client.close()
    # A new engine works after the old one died.
    with EngineClient() as fresh:
        assert fresh.load(LoadModel(path=str(bundled_path), n_ctx=256)).n_layers == 30


def test_loading_a_missing_file_fails_cleanly(bundled_path: Path, tmp_path: Path) -> None:
    with EngineClient() as client:
        with pytest.raises(EngineError, match="does not exist"):
            client.load(LoadModel(path=str(tmp_path / "nope.gguf")))
        assert client.load(LoadModel(path=str(bundled_path), n_ctx=256)).n_ctx == 256


def test_quantize_writes_atomically_and_dry_run_reports_compute(bundled_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "q2k.gguf"
    with EngineClient() as client:
        result = client.quantize(Quantize(src=str(bundled_path), dst=str(target), quant="Q2_K"))
        breakdown = client.dry_run(DryRun(path=str(target), n_ctx=2048))
    assert target.stat().st_size == result.size_bytes > 50 * 2**20
    assert list(out.iterdir()) == [target]  # no temporary file left behind
    # the compute reserve is dominated by a batch of logits: 49,152 × 512 floats ≈ 96 MiB
    assert 90 * 2**20 < breakdown.host_compute_bytes < 130 * 2**20
    assert breakdown.n_layers == 30 and breakdown.model_bytes > 0
