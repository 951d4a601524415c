"""Requests the parent sends to the engine process and events it gets back.

Plain frozen dataclasses, pickled over a multiprocessing pipe. This module must stay importable
without llama_cpp: the parent (CLI, TUI) imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# --- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadModel:
    """Load a GGUF file and create a context for it (replacing any loaded model)."""

    path: str
    n_ctx: int = 2048
    gpu_layers: int = 0  # -1 = all layers
    threads: int | None = None  # None = physical cores
    n_batch: int = 512
    flash_attn: bool | None = None  # None = let llama.cpp decide
    use_mmap: bool = True


@dataclass(frozen=True)
class SamplingSettings:
    """How the next token is chosen; temperature 0 means greedy."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    seed: int = 42


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Generate:
    """Generate a reply to chat `messages` (through the model's template) or to a raw `prompt`."""

    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False  # benchmarks: always generate max_tokens
    flush_interval_s: float = 0.016  # how often token batches are sent to the parent


@dataclass(frozen=True)
class Unload:
    """Free the model and its context; the process stays up."""


@dataclass(frozen=True)
class Shutdown:
    """Free everything and exit."""


@dataclass(frozen=True)
class Quantize:
    """Write `dst` as `quant` from `src` with llama_model_quantize (atomically)."""

    src: str
    dst: str
    quant: str
    threads: int | None = None


@dataclass(frozen=True)
class DryRun:
    """Ask llama.cpp what a load would allocate, without allocating (no_alloc)."""

    path: str
    n_ctx: int = 2048
    gpu_layers: int = 0
    n_batch: int = 512


@dataclass(frozen=True)
class ScoreText:
    """Score `text` like llama-perplexity: chunks of n_ctx tokens, second half of each scored.

    With `reference_logprobs` set, also computes KL divergence and top-1 agreement against the
    log-probabilities stored there; with `save_logprobs` set, stores this model's log-probabilities
    there for a later comparison (llama.cpp's `--kl-divergence-base` format: uint16 per token and
    vocabulary entry, streamed one chunk at a time). With `greedy_max_tokens` > 0, also answers
    `greedy_messages` greedily (argmax, no sampler) and returns the token ids.
    """

    text: str
    n_ctx: int = 512
    max_chunks: int | None = None
    n_batch: int = 512
    save_logprobs: str | None = None
    reference_logprobs: str | None = None
    greedy_messages: tuple[ChatMessage, ...] | None = None
    greedy_max_tokens: int = 0


Request = LoadModel | Generate | Unload | Shutdown | Quantize | DryRun | ScoreText

# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    pid: int
    llama_cpp_version: str
    gpu_offload_supported: bool
    system_info: str
    baseline_rss_bytes: int  # the engine process before any model: interpreter + llama.cpp
    log_path: str


@dataclass(frozen=True)
class Loaded:
    path: str
    load_s: float
    n_layers: int
    gpu_layers: int  # layers actually offloaded
    n_ctx: int
    n_ctx_train: int
    n_params: int
    model_bytes: int  # llama_model_size
    threads: int
    description: str
    has_chat_template: bool
    max_rss_bytes: int  # the process's high-water mark after the load
    device_buffer_bytes: int = 0  # what llama.cpp logged it put in GPU buffers (weights, KV, compute)


@dataclass(frozen=True)
class Tokens:
    """A batch of generated text; `n_tokens` tokens, the last produced at `t` (perf_counter)."""

    text: str
    n_tokens: int
    t: float


@dataclass(frozen=True)
class GenerationStats:
    stop_reason: Literal["eos", "length", "stop", "cancelled", "context_full"]
    text: str
    prompt_tokens: int
    reused_prompt_tokens: int  # tokens already in the KV cache from the previous turn
    gen_tokens: int
    ttft_s: float  # request received → first token sampled
    prompt_s: float
    gen_s: float  # first token → last token
    total_s: float
    max_rss_bytes: int

    @property
    def prompt_tps(self) -> float:
        evaluated = self.prompt_tokens - self.reused_prompt_tokens
        return evaluated / self.prompt_s if self.prompt_s > 0 else 0.0

    @property
    def gen_tps(self) -> float:
        # n tokens take n-1 decode steps after the first one, as llama.cpp's eval timings count them
        return (self.gen_tokens - 1) / self.gen_s if self.gen_tokens > 1 and self.gen_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompt_tps"] = self.prompt_tps
        data["gen_tps"] = self.gen_tps
        return data


@dataclass(frozen=True)
class Finished:
    stats: GenerationStats


@dataclass(frozen=True)
class Progress:
    what: str
    fraction: float


@dataclass(frozen=True)
class Quantized:
    path: str
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class MemoryBreakdown:
    """What llama.cpp would allocate for a load, per buffer kind, split by host and device."""

    path: str
    n_ctx: int
    gpu_layers: int
    n_layers: int
    model_bytes: int
    host_weights_bytes: int
    device_weights_bytes: int
    host_kv_bytes: int
    device_kv_bytes: int
    host_compute_bytes: int
    device_compute_bytes: int
    output_bytes: int
    seconds: float


@dataclass(frozen=True)
class TextScore:
    """Perplexity and, against a reference, KL divergence and top-1 agreement.

    Statistics follow llama-perplexity: `ppl_stderr` and `kld_stderr` are its uncertainties,
    `top1_agreement` its "Same top p", `kld_p99` its "99.0% KLD". `ppl_base` is the reference's
    perplexity on the same tokens (from the stored log-probabilities) and `ln_ppl_ratio` is
    ln(PPL/PPL(base)) with its uncertainty, which accounts for the correlation of the two.
    """

    n_ctx: int
    chunks: int
    tokens_scored: int
    nll_sum: float
    nll2_sum: float
    ppl: float
    ppl_stderr: float
    kld_mean: float | None
    kld_stderr: float | None
    kld_p99: float | None
    top1_agreement: float | None
    seconds: float
    text_tokens: int = 0
    kld_median: float | None = None
    kld_max: float | None = None
    top1_stderr: float | None = None
    ppl_base: float | None = None
    ln_ppl_ratio: float | None = None
    ln_ppl_ratio_stderr: float | None = None
    p_diff_rms: float | None = None
    greedy_tokens: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["greedy_tokens"] = list(self.greedy_tokens)
        return data


@dataclass(frozen=True)
class Failed:
    """The request failed; the engine is still alive unless `fatal`."""

    kind: str  # "load", "generate", "quantize", "dry_run", "score", "request"
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class Done:
    """A request without a more specific answer (Unload) completed."""


Event = (
    Ready | Loaded | Tokens | Finished | Progress | Quantized | MemoryBreakdown | TextScore | Failed | Done
)
