"""`edgeapp bench`: the same prompt on several models, repeated and interleaved, measured honestly.

Seed 000's method on the user's machine: identical prompt, seed and settings for every model;
greedy decoding with end-of-sequence ignored, so every repetition writes exactly n_predict tokens
(fair across quants, and comparable with llama-bench's tg). Each repetition is a fresh engine
process (one model in memory at a time) that loads the model, answers once and exits, so load
time and peak memory are measured every time. A warm-up round runs first (page cache, CPU
clocks) and is not reported; then rounds go A B A B … so that drift (thermal throttling,
other load) hits every model alike.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeapp.bench.subjects import quant_label
from edgeapp.cost import efficiency_quotient, inference_cost_usd
from edgeapp.engine.protocol import ChatMessage, SamplingSettings
from edgeapp.errors import EdgeappError, EngineError
from edgeapp.refs import ResolvedModel
from edgeapp.runs import RunResult, RunSettings, run_prompt


class BenchCancelled(EdgeappError):
    """The benchmark was stopped before it finished."""


@dataclass(frozen=True)
class BenchSettings:
    """What every model is measured under."""

    prompt: str
    prompt_name: str = "grandville"
    n_predict: int = 512
    reps: int = 3
    warmup: int = 1
    n_ctx: int = 2048
    gpu_layers: int = 0  # resolved: -1 = all
    threads: int | None = None
    price_per_hour: float = 0.768
    seed: int = 42
    chat: bool = True  # send the prompt through the model's chat template

    def run_settings(self) -> RunSettings:
        """Return the engine settings: greedy, no repetition penalty, exactly n_predict tokens."""
        sampling = SamplingSettings(temperature=0.0, repeat_penalty=1.0, seed=self.seed)
        return RunSettings(
            n_ctx=self.n_ctx,
            gpu_layers=self.gpu_layers,
            threads=self.threads,
            max_tokens=self.n_predict,
            sampling=sampling,
            ignore_eos=True,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt_name": self.prompt_name,
            "prompt": self.prompt,
            "chat_template": self.chat,
            "n_predict": self.n_predict,
            "reps": self.reps,
            "warmup": self.warmup,
            "n_ctx": self.n_ctx,
            "gpu_layers": self.gpu_layers,
            "threads": self.threads,
            "price_per_hour": self.price_per_hour,
            "seed": self.seed,
            "sampling": "greedy",
            "ignore_eos": True,
        }


@dataclass(frozen=True)
class Repetition:
    """One load-and-answer of one model."""

    load_s: float
    ttft_s: float
    prompt_tokens: int
    prompt_tps: float
    gen_tokens: int
    gen_tps: float
    total_s: float
    peak_rss_bytes: int
    peak_vram_bytes: int | None
    gpu_layers: int
    threads: int
    n_ctx: int

    @classmethod
    def from_run(cls, result: RunResult) -> Repetition:
        stats, loaded = result.stats, result.loaded
        return cls(
            load_s=loaded.load_s,
            ttft_s=stats.ttft_s,
            prompt_tokens=stats.prompt_tokens,
            prompt_tps=stats.prompt_tps,
            gen_tokens=stats.gen_tokens,
            gen_tps=stats.gen_tps,
            total_s=stats.total_s,
            peak_rss_bytes=result.peak_rss_bytes,
            peak_vram_bytes=result.peak_vram_bytes,
            gpu_layers=loaded.gpu_layers,
            threads=loaded.threads,
            n_ctx=loaded.n_ctx,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


@dataclass(frozen=True)
class BenchRun:
    """Every repetition of one model, and the figures a report shows for it."""

    model: ResolvedModel
    quant: str | None
    size_bytes: int
    price_per_hour: float
    reps: tuple[Repetition, ...]
    error: str | None = None  # why the model could not be measured (then reps is empty)

    @property
    def gen_tps(self) -> float:
        return _mean([r.gen_tps for r in self.reps])

    @property
    def gen_tps_sd(self) -> float:
        return statistics.stdev([r.gen_tps for r in self.reps]) if len(self.reps) > 1 else 0.0

    @property
    def total_s(self) -> float:
        """Return the mean inference time: request → last token, seed 000's "inference time"."""
        return _mean([r.total_s for r in self.reps])

    @property
    def cost_usd(self) -> float:
        return inference_cost_usd(self.price_per_hour, self.total_s)

    @property
    def eq(self) -> float | None:
        return efficiency_quotient(self.price_per_hour, self.total_s) if self.reps else None

    @property
    def peak_vram_bytes(self) -> int | None:
        values = [r.peak_vram_bytes for r in self.reps if r.peak_vram_bytes is not None]
        return max(values) if values else None

    def to_json(self) -> dict[str, Any]:
        """Return the fields `edgeapp bench --json` promises for a run (fields may be added)."""
        identity = {
            "model": self.model.model_id,
            "label": self.model.label,
            "quant": self.quant,
            "path": str(self.model.path),
            "size_bytes": self.size_bytes,
            "error": self.error,
        }
        if not self.reps:
            measured = (
                "gpu_layers", "threads", "n_ctx", "load_s", "ttft_s", "prompt_tokens", "prompt_tps", "gen_tokens",
                "gen_tps", "gen_tps_sd", "total_s", "total_s_sd", "peak_rss_bytes", "peak_vram_bytes", "cost_usd", "eq",
            )  # fmt: skip
            return {**identity, **dict.fromkeys(measured), "price_per_hour": self.price_per_hour, "reps": []}
        last = self.reps[-1]
        return {
            **identity,
            "gpu_layers": last.gpu_layers,
            "threads": last.threads,
            "n_ctx": last.n_ctx,
            "load_s": _mean([r.load_s for r in self.reps]),
            "ttft_s": _mean([r.ttft_s for r in self.reps]),
            "prompt_tokens": last.prompt_tokens,
            "prompt_tps": _mean([r.prompt_tps for r in self.reps]),
            "gen_tokens": last.gen_tokens,
            "gen_tps": self.gen_tps,
            "gen_tps_sd": self.gen_tps_sd,
            "total_s": self.total_s,
            "total_s_sd": statistics.stdev([r.total_s for r in self.reps]) if len(self.reps) > 1 else 0.0,
            "peak_rss_bytes": max(r.peak_rss_bytes for r in self.reps),
            "peak_vram_bytes": self.peak_vram_bytes,
            "price_per_hour": self.price_per_hour,
            "cost_usd": self.cost_usd,
            "eq": self.eq,
            "reps": [r.to_json() for r in self.reps],
        }


@dataclass(frozen=True)
class BenchReport:
    """A finished benchmark: the machine, the settings, one run per model."""

    machine: dict[str, Any]
    settings: BenchSettings
    runs: tuple[BenchRun, ...]
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings.to_json(),
            "started_at": self.started_at,
            "runs": [run.to_json() for run in self.runs],
        }


def run_bench(
    models: Sequence[ResolvedModel],
    settings: BenchSettings,
    machine: dict[str, Any] | None = None,
    on_progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> BenchReport:
    """Benchmark `models` (local files) under `settings`, interleaved; return the report.

    A model the engine cannot load or run (out of memory, a crash) is dropped from the later
    rounds and reported with its error and no EQ, as seed 000 reports an unsuccessful inference;
    the other models go on.
    """
    say = on_progress or (lambda _message: None)
    run_settings = settings.run_settings()
    messages = (ChatMessage("user", settings.prompt),) if settings.chat else None
    prompt = None if settings.chat else settings.prompt
    reps: dict[int, list[Repetition]] = {index: [] for index in range(len(models))}
    errors: dict[int, str] = {}
    rounds = [("warm-up", r, settings.warmup) for r in range(settings.warmup)]
    rounds += [("rep", r, settings.reps) for r in range(settings.reps)]
    for phase, number, count in rounds:
        for index, model in enumerate(models):
            if cancel is not None and cancel.is_set():
                raise BenchCancelled("the benchmark was cancelled")
            if index in errors:
                continue
            label = f"{phase} {number + 1}/{count} {model.label}"
            say(f"{label}: loading and generating {settings.n_predict} tokens")
            try:
                result = run_prompt(model, run_settings, prompt=prompt, messages=messages)
            except EngineError as error:
                errors[index] = str(error)
                say(f"{label}: failed, dropped from the benchmark: {error}")
                continue
            if phase == "rep":
                reps[index].append(Repetition.from_run(result))
            stats = result.stats
            say(
                f"{label}: {stats.gen_tps:.1f} tok/s, {stats.total_s:.2f} s, load {result.loaded.load_s:.2f} s"
            )
    runs = tuple(
        BenchRun(
            model=model,
            quant=quant_label(model),
            size_bytes=model.path.stat().st_size if model.path else 0,
            price_per_hour=settings.price_per_hour,
            reps=tuple(reps[index]) if index not in errors else (),
            error=errors.get(index),
        )
        for index, model in enumerate(models)
    )
    return BenchReport(machine=machine or {}, settings=settings, runs=runs)
