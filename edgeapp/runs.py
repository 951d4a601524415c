"""Run one prompt on one model in an engine process and measure it: the unit the chat command,
the benchmark and the TUI's comparison all share.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeapp.engine.client import EngineClient
from edgeapp.engine.protocol import (
    ChatMessage,
    Finished,
    Generate,
    GenerationStats,
    Loaded,
    LoadModel,
    SamplingSettings,
    Tokens,
)
from edgeapp.refs import ResolvedModel


@dataclass(frozen=True)
class RunSettings:
    """Everything that must be equal for two runs to be compared fairly."""

    n_ctx: int = 2048
    gpu_layers: int = 0  # -1 = all
    threads: int | None = None
    max_tokens: int = 512
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "n_ctx": self.n_ctx,
            "gpu_layers": self.gpu_layers,
            "threads": self.threads,
            "max_tokens": self.max_tokens,
            "sampling": self.sampling.__dict__,
            "stop": list(self.stop),
            "ignore_eos": self.ignore_eos,
        }


@dataclass(frozen=True)
class RunResult:
    """One prompt on one model: load, first token, speed, memory."""

    model: ResolvedModel
    settings: RunSettings
    loaded: Loaded
    stats: GenerationStats
    peak_rss_bytes: int
    peak_vram_bytes: int | None
    size_bytes: int
    token_times: tuple[tuple[float, int], ...]  # (seconds since the first token, tokens in the batch)

    def to_json(self) -> dict[str, Any]:
        """Return the fields `edgeapp chat --prompt --json` promises."""
        return {
            "model": self.model.model_id,
            "quant": self.model.quant,
            "path": str(self.model.path),
            "text": self.stats.text,
            "prompt_tokens": self.stats.prompt_tokens,
            "gen_tokens": self.stats.gen_tokens,
            "load_s": self.loaded.load_s,
            "ttft_s": self.stats.ttft_s,
            "prompt_tps": self.stats.prompt_tps,
            "gen_tps": self.stats.gen_tps,
            "total_s": self.stats.total_s,
            "stop_reason": self.stats.stop_reason,
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_vram_bytes": self.peak_vram_bytes,
            "gpu_layers": self.loaded.gpu_layers,
            "n_layers": self.loaded.n_layers,
            "n_ctx": self.loaded.n_ctx,
            "threads": self.loaded.threads,
            "size_bytes": self.size_bytes,
        }


def load_request(model: ResolvedModel, settings: RunSettings) -> LoadModel:
    """Return the engine's load request for `model` under `settings`."""
    if model.path is None:
        raise ValueError(f"{model.ref} has no local file; call refs.materialize first")
    return LoadModel(
        path=str(model.path), n_ctx=settings.n_ctx, gpu_layers=settings.gpu_layers, threads=settings.threads
    )


def generate_request(
    settings: RunSettings, prompt: str | None = None, messages: tuple[ChatMessage, ...] | None = None
) -> Generate:
    """Return the engine's generate request for a raw prompt or chat messages."""
    return Generate(
        messages=messages,
        prompt=prompt,
        sampling=settings.sampling,
        max_tokens=settings.max_tokens,
        stop=settings.stop,
        ignore_eos=settings.ignore_eos,
    )


def stream_reply(
    engine: EngineClient, request: Generate, on_tokens: Callable[[Tokens], None] | None = None
) -> tuple[GenerationStats, tuple[tuple[float, int], ...]]:
    """Run `request` on the loaded model; return its stats and the token batch timeline."""
    timeline: list[tuple[float, int]] = []
    first: float | None = None
    for event in engine.generate(request):
        if isinstance(event, Tokens):
            if first is None:
                first = event.t
            timeline.append((event.t - first, event.n_tokens))
            if on_tokens is not None:
                on_tokens(event)
        elif isinstance(event, Finished):
            return event.stats, tuple(timeline)
    raise RuntimeError("the engine ended a generation without statistics")


def load_with_fallback(
    engine: EngineClient, request: LoadModel, notify: Callable[[str], None] | None = None
) -> Loaded:
    """Load `request`; if a GPU load fails (out of VRAM), retry with half the layers, down to none.

    Each retry is announced through `notify` so the user knows the model runs slower than asked.
    """
    from edgeapp.errors import EngineCrashed, EngineError

    attempt = request
    while True:
        try:
            return engine.load(attempt)
        except EngineCrashed:
            raise
        except EngineError as error:
            if attempt.gpu_layers == 0:
                raise
            asked = attempt.gpu_layers if attempt.gpu_layers > 0 else _layer_count(attempt.path) + 1
            fewer = asked // 2
            if notify is not None:
                notify(
                    f"loading with {attempt.gpu_layers} GPU layers failed ({error}); retrying with {fewer}"
                )
            attempt = LoadModel(**{**attempt.__dict__, "gpu_layers": fewer})


def _layer_count(path: str) -> int:
    """Return the number of blocks of a GGUF model (from its header)."""
    from edgeapp.gguf_file import read_header

    return read_header(path, check_data=False).n_layers


def run_prompt(
    model: ResolvedModel,
    settings: RunSettings,
    *,
    prompt: str | None = None,
    messages: tuple[ChatMessage, ...] | None = None,
    on_tokens: Callable[[Tokens], None] | None = None,
    engine: EngineClient | None = None,
    notify: Callable[[str], None] | None = None,
) -> RunResult:
    """Load `model` in an engine (a fresh one unless given), answer once, measure, return."""
    own = engine is None
    client = engine or EngineClient()
    try:
        if own:
            client.start()
        loaded = load_with_fallback(client, load_request(model, settings), notify)
        stats, timeline = stream_reply(client, generate_request(settings, prompt, messages), on_tokens)
        monitor = client.monitor
        sampled_rss = monitor.peak_rss_bytes if monitor else 0
        return RunResult(
            model=model,
            settings=settings,
            loaded=loaded,
            stats=stats,
            peak_rss_bytes=max(sampled_rss, stats.max_rss_bytes),
            peak_vram_bytes=monitor.peak_vram_bytes if monitor else None,
            size_bytes=os.path.getsize(model.path) if model.path else 0,
            token_times=timeline,
        )
    finally:
        if own:
            client.close()
