"""The decode loop: prompt → tokens, at llama.cpp's speed (runs in the engine process).

Per token the loop makes four ctypes calls (sample, is-eog, token-to-piece, decode), reuses one
single-token batch, samples with llama.cpp's own sampler chain run inside the compute graph
(no numpy, no logits copied to Python), and
sends text to the parent in batches every `flush_interval_s` rather than one message per token.
Cancellation is a shared byte the parent sets; reading it costs a memory load.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from typing import Any

import llama_cpp as L

from edgeapp.engine.protocol import Generate, GenerationStats, SamplingSettings, Tokens
from edgeapp.engine.session import Session, max_rss_bytes
from edgeapp.engine.text_stream import StopMatcher, Utf8Stream


class GenerationFailed(RuntimeError):
    """llama_decode failed or the prompt cannot fit; the message is for the user."""


def build_sampler(session: Session, sampling: SamplingSettings, ignore_eos: bool) -> int:
    """Return a llama.cpp sampler chain for `sampling` (the caller frees it)."""
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    n_vocab = L.llama_vocab_n_tokens(session.vocab)
    add = L.llama_sampler_chain_add
    if ignore_eos:
        eog = [t for t in (L.llama_vocab_eos(session.vocab), L.llama_vocab_eot(session.vocab)) if t >= 0]
        biases = (L.llama_logit_bias * len(eog))(*[L.llama_logit_bias(t, -float("inf")) for t in eog])
        add(chain, L.llama_sampler_init_logit_bias(n_vocab, len(eog), biases))
    if sampling.repeat_penalty != 1.0 and sampling.repeat_last_n != 0:
        add(
            chain,
            L.llama_sampler_init_penalties(
                n_vocab, sampling.repeat_last_n, sampling.repeat_penalty, 0.0, 0.0
            ),
        )
    if sampling.temperature <= 0:
        add(chain, L.llama_sampler_init_greedy())
        return chain
    if sampling.top_k > 0:
        add(chain, L.llama_sampler_init_top_k(sampling.top_k))
    if sampling.top_p < 1.0:
        add(chain, L.llama_sampler_init_top_p(sampling.top_p, 1))
    if sampling.min_p > 0.0:
        add(chain, L.llama_sampler_init_min_p(sampling.min_p, 1))
    add(chain, L.llama_sampler_init_temp(sampling.temperature))
    add(chain, L.llama_sampler_init_dist(sampling.seed & 0xFFFFFFFF))
    return chain


def prompt_tokens(session: Session, request: Generate) -> list[int]:
    """Return the tokens of the request's prompt (chat messages through the template, or raw)."""
    if request.messages is not None:
        text, has_specials = session.render_chat(request.messages)
        return session.tokenize(text, add_special=not has_specials, parse_special=True)
    return session.tokenize(request.prompt or "", add_special=True, parse_special=True)


def evaluate_prompt(session: Session, tokens: list[int], start: int, cancelled: Callable[[], bool]) -> None:
    """Decode tokens[start:] into the KV cache in batches of n_batch; logits only for the last."""
    array = (L.llama_token * len(tokens))(*tokens)
    size = ctypes.sizeof(L.llama_token)
    position = start
    while position < len(tokens):
        if cancelled():
            return
        count = min(session.n_batch, len(tokens) - position)
        pointer = ctypes.cast(ctypes.byref(array, position * size), ctypes.POINTER(L.llama_token))
        batch = L.llama_batch_get_one(pointer, count)
        result = L.llama_decode(session.ctx, batch)
        if result != 0:
            raise GenerationFailed(f"llama_decode failed on the prompt (code {result})")
        session.cached_tokens.extend(tokens[position : position + count])
        position += count


def generate(
    session: Session, request: Generate, send: Callable[[Any], None], cancel_flag: Any
) -> GenerationStats:
    """Run one generation, sending Tokens events; return its statistics."""
    received = time.perf_counter()
    tokens = prompt_tokens(session, request)
    if len(tokens) >= session.n_ctx:
        raise GenerationFailed(
            f"the prompt has {len(tokens)} tokens but the context holds {session.n_ctx}; "
            "start a new chat or use a larger context size"
        )
    reused = session.reuse_prefix(tokens)
    chain = build_sampler(session, request.sampling, request.ignore_eos)
    # Attach the chain to the context so llama.cpp samples inside its compute graph: the token
    # comes back without copying n_vocab logits out and walking them on the CPU (a penalty
    # sampler alone costs milliseconds per token that way). Same results, same seed.
    attached = bool(L.llama_set_sampler(session.ctx, 0, chain))
    try:
        for token in tokens[-max(request.sampling.repeat_last_n, 0) :]:
            L.llama_sampler_accept(chain, token)
        prompt_started = time.perf_counter()
        evaluate_prompt(session, tokens, reused, lambda: bool(cancel_flag.value))
        prompt_s = time.perf_counter() - prompt_started
        return _decode_loop(
            session, request, send, cancel_flag, chain, received, prompt_s, len(tokens), reused
        )
    finally:
        if attached:
            L.llama_set_sampler(session.ctx, 0, None)
        L.llama_sampler_free(chain)


def _decode_loop(
    session: Session,
    request: Generate,
    send: Callable[[Any], None],
    cancel_flag: Any,
    chain: int,
    received: float,
    prompt_s: float,
    n_prompt: int,
    reused: int,
) -> GenerationStats:
    # Bind everything the loop touches to locals: attribute lookups cost more than the C calls.
    sample, is_eog, to_piece, decode = (
        L.llama_sampler_sample,
        L.llama_vocab_is_eog,
        L.llama_token_to_piece,
        L.llama_decode,
    )
    perf_counter = time.perf_counter
    ctx, vocab, cached = session.ctx, session.vocab, session.cached_tokens
    one = (L.llama_token * 1)()
    batch = L.llama_batch_get_one(one, 1)
    piece = ctypes.create_string_buffer(256)
    utf8, stops = Utf8Stream(), StopMatcher(request.stop)
    parts: list[str] = []
    pending: list[str] = []
    pending_tokens = 0
    n_gen = 0
    room = session.n_ctx - len(cached)
    interval = request.flush_interval_s
    ignore_eos = request.ignore_eos
    max_tokens = request.max_tokens
    stop_reason = "length"
    t_first = t_last = last_flush = perf_counter()

    while True:
        if cancel_flag.value:
            stop_reason = "cancelled"
            break
        token = sample(chain, ctx, -1)
        now = perf_counter()
        if n_gen == 0:
            t_first = now
        if not ignore_eos and is_eog(vocab, token):
            stop_reason = "eos"
            break
        t_last = now
        n_gen += 1
        length = to_piece(vocab, token, piece, 256, 0, False)
        text, hit = stops.feed(utf8.feed(piece.raw[:length])) if length > 0 else ("", False)
        if text:
            pending.append(text)
        pending_tokens += 1
        if hit:
            stop_reason = "stop"
            break
        if now - last_flush >= interval:
            chunk = "".join(pending)
            parts.append(chunk)
            send(Tokens(chunk, pending_tokens, now))
            pending.clear()
            pending_tokens = 0
            last_flush = now
        if n_gen >= max_tokens:
            break
        if n_gen >= room:
            stop_reason = "context_full"
            break
        one[0] = token
        result = decode(ctx, batch)
        if result != 0:
            raise GenerationFailed(f"llama_decode failed while generating (code {result})")
        cached.append(token)

    if stop_reason != "stop":
        tail, _ = stops.feed(utf8.flush())
        pending.append(tail + stops.flush())
    if pending_tokens or any(pending):
        chunk = "".join(pending)
        parts.append(chunk)
        send(Tokens(chunk, pending_tokens, t_last))
    finished = perf_counter()
    return GenerationStats(
        stop_reason=stop_reason,  # type: ignore[arg-type]
        text="".join(parts),
        prompt_tokens=n_prompt,
        reused_prompt_tokens=reused,
        gen_tokens=n_gen,
        ttft_s=(t_first - received) if n_gen else (finished - received),
        prompt_s=prompt_s,
        gen_s=t_last - t_first,
        total_s=finished - received,
        max_rss_bytes=max_rss_bytes(),
    )
