"""`edgeapp compare`: how much each quant loses against a reference, measured like llama.cpp does.

For every model, one fresh engine process (never two models in memory): load, a short greedy
generation for speed and peak memory, then the llama-perplexity protocol over the evaluation
text. The reference goes first and streams its log-probabilities to a temporary file in the
cache directory (llama.cpp's --kl-divergence-base format: tokens × vocabulary × 2 bytes); each
other model streams it back chunk by chunk for KL divergence and top-1 agreement, and answers the
same prompt greedily so the token-by-token agreement with the reference's answer can be counted.
The file is deleted at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeapp.bench.presets import GRANDVILLE
from edgeapp.bench.subjects import precision_order, quant_label
from edgeapp.bench.text import EvalText
from edgeapp.engine.client import EngineClient
from edgeapp.engine.protocol import ChatMessage, LoadModel, Progress, SamplingSettings, ScoreText, TextScore
from edgeapp.locations import cache_directory
from edgeapp.refs import ResolvedModel
from edgeapp.runs import RunSettings, generate_request, stream_reply


@dataclass(frozen=True)
class CompareSettings:
    """How the text is scored and the prompt answered, the same for every model."""

    n_ctx: int = 512  # llama-perplexity's default context
    max_chunks: int | None = None  # None: every chunk of the text, as llama-perplexity does
    n_batch: int = 512
    greedy_tokens: int = 64
    prompt: str = GRANDVILLE
    n_predict: int = 128  # the speed run; 0 skips it
    gpu_layers: int = 0
    threads: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def load_ctx(self) -> int:
        """Return the context to load with: the scoring window, or more if the prompt needs it."""
        if self.n_predict <= 0 and self.greedy_tokens <= 0:
            return self.n_ctx
        # A chat prompt is at most about one token per 2 characters, plus the template.
        needed = len(self.prompt) // 2 + 64 + max(self.n_predict, self.greedy_tokens)
        return max(self.n_ctx, -(-needed // 256) * 256)


@dataclass(frozen=True)
class QualityRow:
    """One model against the reference."""

    model: ResolvedModel
    quant: str | None
    size_bytes: int
    is_reference: bool
    score: TextScore
    ppl_reference: float
    greedy_match_tokens: int
    greedy_reference_tokens: int
    gen_tps: float | None
    peak_rss_bytes: int
    peak_vram_bytes: int | None
    load_s: float

    @property
    def kld_mean(self) -> float | None:
        return 0.0 if self.is_reference else self.score.kld_mean

    @property
    def top1_agreement(self) -> float | None:
        return 1.0 if self.is_reference else self.score.top1_agreement

    @property
    def ppl_ratio(self) -> float:
        return self.score.ppl / self.ppl_reference if self.ppl_reference else float("nan")

    def to_json(self) -> dict[str, Any]:
        """Return the fields `edgeapp compare --json` promises for a row (fields may be added)."""
        score = self.score
        reference = self.is_reference
        return {
            "model": self.model.model_id,
            "label": self.model.label,
            "quant": self.quant,
            "path": str(self.model.path),
            "reference": reference,
            "size_bytes": self.size_bytes,
            "ppl": score.ppl,
            "ppl_stderr": score.ppl_stderr,
            "ppl_delta_pct": (self.ppl_ratio - 1.0) * 100.0,
            "ppl_ratio": self.ppl_ratio,
            "ln_ppl_ratio_stderr": 0.0 if reference else score.ln_ppl_ratio_stderr,
            "kld_mean": self.kld_mean,
            "kld_stderr": 0.0 if reference else score.kld_stderr,
            "kld_median": 0.0 if reference else score.kld_median,
            "kld_p99": 0.0 if reference else score.kld_p99,
            "kld_max": 0.0 if reference else score.kld_max,
            "top1_agreement": self.top1_agreement,
            "top1_stderr": 0.0 if reference else score.top1_stderr,
            "p_diff_rms": 0.0 if reference else score.p_diff_rms,
            "greedy_match_tokens": self.greedy_match_tokens,
            "greedy_reference_tokens": self.greedy_reference_tokens,
            "gen_tps": self.gen_tps,
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_vram_bytes": self.peak_vram_bytes,
            "load_s": self.load_s,
            "tokens_scored": score.tokens_scored,
            "chunks": score.chunks,
            "score_s": score.seconds,
        }


@dataclass(frozen=True)
class CompareReport:
    """A finished comparison."""

    reference: ResolvedModel
    text: EvalText
    settings: CompareSettings
    rows: tuple[QualityRow, ...]
    machine: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def tokens_scored(self) -> int:
        return self.rows[0].score.tokens_scored if self.rows else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference.label,
            "text": self.text.name,
            "text_sha256": self.text.sha256,
            "n_ctx": self.settings.n_ctx,
            "chunks": self.rows[0].score.chunks if self.rows else 0,
            "tokens_scored": self.tokens_scored,
            "text_tokens": self.rows[0].score.text_tokens if self.rows else 0,
            "machine": self.machine,
            "settings": self.settings.to_json(),
            "started_at": self.started_at,
            "rows": [row.to_json() for row in self.rows],
        }


def choose_reference(
    models: Sequence[ResolvedModel], reference: ResolvedModel | None
) -> tuple[ResolvedModel, list[ResolvedModel]]:
    """Return (reference, the others in the given order); the default is the most precise model."""
    ref = reference or precision_order(models)[0]
    others = [m for m in models if m.path != ref.path]
    return ref, others


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Return how many leading tokens `a` and `b` share."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def run_compare(
    models: Sequence[ResolvedModel],
    text: EvalText,
    settings: CompareSettings,
    reference: ResolvedModel | None = None,
    machine: dict[str, Any] | None = None,
    on_progress: Callable[[str, float | None], None] | None = None,
) -> CompareReport:
    """Score every model on `text` against the reference; return the rows, reference first."""
    ref, others = choose_reference(models, reference)
    say = on_progress or (lambda _message, _fraction: None)
    logprobs = cache_directory() / f"kld-base-{os.getpid()}-{time.monotonic_ns()}.logprobs"
    try:
        say(f"{ref.label} (reference): scoring", 0.0)
        ref_row = _measure(ref, text, settings, None, say, save=logprobs)
        rows = [ref_row]
        for model in others:
            say(f"{model.label}: scoring against {ref.label}", 0.0)
            rows.append(_measure(model, text, settings, ref_row, say, reference_file=logprobs))
    finally:
        with contextlib.suppress(FileNotFoundError):
            logprobs.unlink()
    return CompareReport(reference=ref, text=text, settings=settings, rows=tuple(rows), machine=machine or {})


def _measure(
    model: ResolvedModel,
    text: EvalText,
    settings: CompareSettings,
    ref_row: QualityRow | None,
    say: Callable[[str, float | None], None],
    save: Path | None = None,
    reference_file: Path | None = None,
) -> QualityRow:
    """Load `model` in a fresh engine; measure speed and memory, then score the text."""
    messages = (ChatMessage("user", settings.prompt),)
    with EngineClient() as engine:
        loaded = engine.load(
            LoadModel(
                path=str(model.path),
                n_ctx=settings.load_ctx(),
                gpu_layers=settings.gpu_layers,
                threads=settings.threads,
                n_batch=settings.n_batch,
            )
        )
        gen_tps, gen_rss = None, 0
        if settings.n_predict > 0:
            run = RunSettings(
                n_ctx=settings.load_ctx(),
                max_tokens=settings.n_predict,
                sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
                ignore_eos=True,
            )
            stats, _ = stream_reply(engine, generate_request(run, messages=messages))
            gen_tps, gen_rss = stats.gen_tps, stats.max_rss_bytes
        # Peak memory of load + generation, before scoring's logits buffers count too.
        monitor = engine.monitor
        peak_rss = max(monitor.peak_rss_bytes if monitor else 0, loaded.max_rss_bytes, gen_rss)
        peak_vram = monitor.peak_vram_bytes if monitor else None
        request = ScoreText(
            text=text.text,
            n_ctx=settings.n_ctx,
            max_chunks=settings.max_chunks,
            n_batch=settings.n_batch,
            save_logprobs=str(save) if save else None,
            reference_logprobs=str(reference_file) if reference_file else None,
            greedy_messages=messages if settings.greedy_tokens > 0 else None,
            greedy_max_tokens=settings.greedy_tokens,
        )
        score = None
        for event in engine.score(request):
            if isinstance(event, Progress):
                say(f"{model.label}: {event.what}", event.fraction)
            elif isinstance(event, TextScore):
                score = event
    assert score is not None  # engine.score ends with a TextScore or raises
    reference_greedy = ref_row.score.greedy_tokens if ref_row else score.greedy_tokens
    return QualityRow(
        model=model,
        quant=quant_label(model),
        size_bytes=model.path.stat().st_size if model.path else 0,
        is_reference=ref_row is None,
        score=score,
        ppl_reference=ref_row.score.ppl if ref_row else score.ppl,
        greedy_match_tokens=common_prefix(score.greedy_tokens, reference_greedy),
        greedy_reference_tokens=len(reference_greedy),
        gen_tps=gen_tps,
        peak_rss_bytes=peak_rss,
        peak_vram_bytes=peak_vram,
        load_s=loaded.load_s,
    )
