"""A loaded model and its context, inside the engine process (imports llama_cpp).

We use llama-cpp-python's ctypes layer (`llama_cpp.llama_cpp`) rather than its `Llama` class on
purpose: the class does per-token numpy work and keeps Python-side token/logit buffers that cost
20-40% of the decode rate on a fast GPU. Chat templates still go through its sandboxed Jinja
formatter (`Jinja2ChatFormatter`, an ImmutableSandboxedEnvironment) so a template in a hostile GGUF
cannot reach Python internals.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import llama_cpp as L

from edgeapp.engine import logs
from edgeapp.engine.protocol import ChatMessage, Loaded, LoadModel

ALL_LAYERS = 0x7FFFFFFF  # llama.cpp clamps this to the model's layer count


def max_rss_bytes() -> int:
    """Return this process's peak resident set size so far.

    On Linux this is VmHWM from /proc/self/status, not getrusage's ru_maxrss: the kernel carries
    ru_maxrss across exec, so a process spawned from a large parent would report the parent's size.
    VmHWM belongs to the address space exec creates.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def physical_cores() -> int:
    """Return the number of physical cores (llama.cpp runs best with one thread per core)."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except Exception:  # psutil missing or unable to tell
        return max(1, os.cpu_count() or 1)


TEMPLATE_RENDER_LIMIT_S = 10.0


class TemplateTooSlow(Exception):
    """Rendering the chat template ran past its time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise TemplateTooSlow in this (main) thread if the block runs longer than `seconds`.

    A template from a GGUF file is untrusted input: the sandbox stops it reaching Python, but a
    loop nested deep enough would still hang the engine without this.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TemplateTooSlow()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Session:
    """The model, context and vocabulary of one load, plus what the KV cache holds."""

    request: LoadModel
    model: int
    ctx: int
    vocab: int
    n_ctx: int
    n_batch: int
    threads: int
    cached_tokens: list[int] = field(default_factory=list)
    _formatter: object | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def load(cls, request: LoadModel) -> tuple[Session, Loaded]:
        """Load `request.path`; return the session and the Loaded event. Raises RuntimeError."""
        started = time.perf_counter()
        if not os.path.isfile(request.path):
            raise RuntimeError(f"{request.path} does not exist")
        model_params = L.llama_model_default_params()
        model_params.n_gpu_layers = ALL_LAYERS if request.gpu_layers < 0 else request.gpu_layers
        model_params.load_mode = L.LLAMA_LOAD_MODE_MMAP if request.use_mmap else L.LLAMA_LOAD_MODE_NONE
        log: list[str] = []  # its buffer sizes: what the GPU holds beyond the CUDA context
        with logs.capture(log):
            model = L.llama_model_load_from_file(request.path.encode(), model_params)
        if not model:
            raise RuntimeError("llama.cpp could not load the model (see the engine log for why)")
        threads = request.threads or physical_cores()
        ctx_params = L.llama_context_default_params()
        ctx_params.n_ctx = request.n_ctx
        ctx_params.n_batch = min(request.n_batch, request.n_ctx)
        ctx_params.n_ubatch = ctx_params.n_batch
        ctx_params.n_threads = threads
        ctx_params.n_threads_batch = threads
        if request.flash_attn is not None:
            ctx_params.flash_attn_type = (
                L.LLAMA_FLASH_ATTN_TYPE_ENABLED if request.flash_attn else L.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
        with logs.capture(log):
            ctx = L.llama_init_from_model(model, ctx_params)
        if not ctx:
            L.llama_model_free(model)
            raise RuntimeError(
                f"llama.cpp could not create a context of {request.n_ctx} tokens "
                "(out of memory? try a smaller --ctx or fewer GPU layers)"
            )
        session = cls(
            request=request,
            model=model,
            ctx=ctx,
            vocab=L.llama_model_get_vocab(model),
            n_ctx=L.llama_n_ctx(ctx),
            n_batch=ctx_params.n_batch,
            threads=threads,
        )
        sizes = logs.buffer_sizes(log)
        device_bytes = sum(v for k, v in sizes.items() if k.startswith("device "))
        return session, session._loaded_event(time.perf_counter() - started, device_bytes)

    def _loaded_event(self, load_s: float, device_buffer_bytes: int = 0) -> Loaded:
        n_layers = L.llama_model_n_layer(self.model)
        requested = self.request.gpu_layers
        gpu_layers = 0
        if L.llama_supports_gpu_offload():
            gpu_layers = n_layers if requested < 0 else min(requested, n_layers)
        desc = ctypes.create_string_buffer(256)
        L.llama_model_desc(self.model, desc, 256)
        return Loaded(
            path=self.request.path,
            load_s=load_s,
            n_layers=n_layers,
            gpu_layers=gpu_layers,
            n_ctx=self.n_ctx,
            n_ctx_train=L.llama_model_n_ctx_train(self.model),
            n_params=L.llama_model_n_params(self.model),
            model_bytes=L.llama_model_size(self.model),
            threads=self.threads,
            description=desc.value.decode("utf-8", "replace"),
            has_chat_template=self.chat_template() is not None,
            max_rss_bytes=max_rss_bytes(),
            device_buffer_bytes=device_buffer_bytes,
        )

    def close(self) -> None:
        """Free the context and the model."""
        if self.ctx:
            L.llama_free(self.ctx)
            self.ctx = 0
        if self.model:
            L.llama_model_free(self.model)
            self.model = 0

    # -- text --------------------------------------------------------------------------------

    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        """Return the tokens of `text`."""
        data = text.encode("utf-8")
        capacity = len(data) + 16
        buffer = (L.llama_token * capacity)()
        n = L.llama_tokenize(self.vocab, data, len(data), buffer, capacity, add_special, parse_special)
        if n < 0:
            capacity = -n
            buffer = (L.llama_token * capacity)()
            n = L.llama_tokenize(self.vocab, data, len(data), buffer, capacity, add_special, parse_special)
        return list(buffer[:n])

    def token_text(self, token: int) -> str:
        """Return the text of one token (special tokens rendered), for templates."""
        buffer = ctypes.create_string_buffer(256)
        n = L.llama_token_to_piece(self.vocab, token, buffer, 256, 0, True)
        return buffer.raw[: max(n, 0)].decode("utf-8", "replace")

    def chat_template(self) -> str | None:
        """Return the model's Jinja chat template from the GGUF metadata, if it has one."""
        template = L.llama_model_chat_template(self.model, None)
        return template.decode("utf-8", "replace") if template else None

    def render_chat(self, messages: tuple[ChatMessage, ...]) -> tuple[str, bool]:
        """Return (prompt text, whether it already contains the special tokens it needs)."""
        template = self.chat_template()
        if template is None:
            # No template in the file: a plain transcript the model can continue.
            lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
            return "\n".join(lines) + "\nAssistant:", False
        try:
            if self._formatter is None:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                bos = L.llama_vocab_bos(self.vocab)
                eos = L.llama_vocab_eos(self.vocab)
                self._formatter = Jinja2ChatFormatter(
                    template=template,
                    bos_token=self.token_text(bos) if bos >= 0 else "",
                    eos_token=self.token_text(eos) if eos >= 0 else "",
                )
            with _time_limit(TEMPLATE_RENDER_LIMIT_S):
                result = self._formatter(messages=[{"role": m.role, "content": m.content} for m in messages])  # type: ignore[operator]
        except TemplateTooSlow:
            raise RuntimeError(
                f"the model's chat template did not finish rendering in {TEMPLATE_RENDER_LIMIT_S:.0f} s "
                "(a hostile or broken template?)"
            ) from None
        except Exception as error:  # a damaged or hostile template: say so, not just Jinja's words
            first_line = (str(error) or type(error).__name__).splitlines()[0]
            raise RuntimeError(
                f"the model's chat template cannot be used ({type(error).__name__}: {first_line})"
            ) from None
        return result.prompt, bool(result.added_special)

    # -- KV cache ----------------------------------------------------------------------------

    def reuse_prefix(self, tokens: list[int]) -> int:
        """Keep the cached tokens `tokens` starts with; drop the rest. Return how many were kept.

        At least one token is always left to evaluate, so the prompt's last logits are fresh.
        """
        common = 0
        limit = min(len(self.cached_tokens), len(tokens) - 1)
        cached = self.cached_tokens
        while common < limit and cached[common] == tokens[common]:
            common += 1
        memory = L.llama_get_memory(self.ctx)
        if common == 0:
            L.llama_memory_clear(memory, True)
        else:
            L.llama_memory_seq_rm(memory, 0, common, -1)
        del self.cached_tokens[common:]
        return common
