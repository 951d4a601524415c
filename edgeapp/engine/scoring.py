"""Perplexity, KL divergence and greedy agreement of the loaded model (runs in the engine process).

The protocol is llama-perplexity's (tools/perplexity/perplexity.cpp, `perplexity()` and
`kl_divergence()`), so the numbers agree with it and with published llama.cpp tables: the whole
text is tokenized with BOS, cut into chunks of n_ctx tokens, the first token of each chunk is
replaced by BOS when the vocabulary adds one, and only the second half of each chunk is scored
(positions n_ctx/2 … n_ctx-2 predict the token after them), so every scored token has at least
n_ctx/2 tokens of context.

Memory: logits are requested only for the scored half and processed right after each decode, in
blocks of rows, straight from llama.cpp's buffer (a numpy view, no copy). The reference's
log-probabilities go to a file in llama.cpp's `--kl-divergence-base` format (per token two float32
— scale and minimum log-probability — then one uint16 per vocabulary entry) and are streamed back
one chunk at a time; only the per-token KL values (4 bytes each) stay in memory for percentiles.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import llama_cpp as L
import numpy as np

from edgeapp.engine.generate import evaluate_prompt, prompt_tokens
from edgeapp.engine.protocol import Generate, Progress, ScoreText, TextScore
from edgeapp.engine.session import Session

MAGIC = b"_logits_"
_ROWS_PER_BLOCK = 32  # rows of n_vocab floats processed at once: bounds the numpy temporaries
_LOG_PROB_FLOOR = -16.0  # llama.cpp ignores reference probabilities below e^-16 in the KL sum


class ScoringFailed(RuntimeError):
    """The text cannot be scored as asked; the message says why and what to do."""


@dataclass
class _Sums:
    """Running sums, as llama.cpp's kl_divergence_result keeps them."""

    nll: float = 0.0
    nll2: float = 0.0
    nll_base: float = 0.0
    nll_base2: float = 0.0
    nll_nll_base: float = 0.0
    kld: float = 0.0
    kld2: float = 0.0
    p_diff2: float = 0.0
    p_diff4: float = 0.0
    same_top: int = 0
    count: int = 0
    kld_values: list[np.ndarray] = field(default_factory=list)


def row_width(n_vocab: int) -> int:
    """Return the uint16 values stored per token: 4 for two float32 headers, then the vocabulary."""
    return 2 * ((n_vocab + 1) // 2) + 4


def logprob_file_bytes(n_ctx: int, n_chunks: int, n_vocab: int) -> int:
    """Return the size of a log-probability file for `n_chunks` chunks of `n_ctx` tokens."""
    header = len(MAGIC) + 12 + 4 * n_ctx * n_chunks
    return header + n_chunks * (n_ctx - 1 - n_ctx // 2) * row_width(n_vocab) * 2


def score_text(
    session: Session | None, request: ScoreText, send: Callable[[Any], None], cancel_flag: Any
) -> TextScore:
    """Score request.text with the loaded model; send Progress events; return the TextScore."""
    if session is None:
        raise ScoringFailed("no model is loaded")
    started = time.perf_counter()
    n_ctx = request.n_ctx
    if n_ctx < 8 or n_ctx > session.n_ctx:
        raise ScoringFailed(
            f"scoring context {n_ctx} must be between 8 and the loaded context {session.n_ctx}"
        )
    n_vocab = L.llama_vocab_n_tokens(session.vocab)
    # common_tokenize(ctx, text, add_special=true): BOS if the vocabulary adds one, no special parsing.
    tokens = session.tokenize(request.text, add_special=True, parse_special=False)
    n_chunks = len(tokens) // n_ctx
    if request.max_chunks is not None:
        n_chunks = min(n_chunks, max(1, request.max_chunks))
    if n_chunks < 1:
        raise ScoringFailed(
            f"the text has {len(tokens)} tokens; scoring with a context of {n_ctx} needs at least {n_ctx} "
            "(use a longer text or a smaller context)"
        )
    cancelled = lambda: bool(cancel_flag.value)  # noqa: E731
    sums = _Sums()
    writer = reader = None
    try:
        writer = _open_writer(request.save_logprobs, tokens, n_ctx, n_chunks, n_vocab)
        reader = _open_reader(request.reference_logprobs, tokens, n_ctx, n_chunks, n_vocab)
        _score_chunks(
            session, tokens, n_ctx, n_chunks, n_vocab, request, sums, writer, reader, send, cancelled
        )
        if writer is not None:
            writer.flush()
            os.fsync(writer.fileno())
        greedy: tuple[int, ...] = ()
        if request.greedy_max_tokens > 0 and request.greedy_messages:
            send(Progress("greedy answer", 1.0))
            greedy = greedy_tokens(session, request, cancelled)
    finally:
        for handle in (writer, reader):
            if handle is not None:
                handle.close()
        L.llama_memory_clear(L.llama_get_memory(session.ctx), True)
        session.cached_tokens.clear()
    return _result(
        sums, n_ctx, n_chunks, len(tokens), reader is not None, greedy, time.perf_counter() - started
    )


def _score_chunks(
    session: Session,
    tokens: list[int],
    n_ctx: int,
    n_chunks: int,
    n_vocab: int,
    request: ScoreText,
    sums: _Sums,
    writer: BinaryIO | None,
    reader: BinaryIO | None,
    send: Callable[[Any], None],
    cancelled: Callable[[], bool],
) -> None:
    n_batch = max(1, min(request.n_batch, session.n_batch))
    first = n_ctx // 2
    add_bos = bool(L.llama_vocab_get_add_bos(session.vocab))
    bos = L.llama_vocab_bos(session.vocab)
    batch = L.llama_batch_init(n_batch, 0, 1)
    memory = L.llama_get_memory(session.ctx)
    width = row_width(n_vocab)
    try:
        for chunk in range(n_chunks):
            L.llama_memory_clear(memory, True)
            window = tokens[chunk * n_ctx : (chunk + 1) * n_ctx]
            inputs = list(window)
            if add_bos:
                inputs[0] = bos
            base = None
            if reader is not None:
                base = _read_rows(reader, (n_ctx - 1 - first) * width).reshape(-1, width)
            scored = 0
            for start in range(0, n_ctx, n_batch):
                if cancelled():
                    raise ScoringFailed("scoring was cancelled")
                count = min(n_batch, n_ctx - start)
                n_out = _fill_batch(batch, inputs, start, count, first)
                result = L.llama_decode(session.ctx, batch)
                if result != 0:
                    raise ScoringFailed(f"llama_decode failed while scoring (code {result})")
                if n_out == 0:
                    continue
                # Output rows are positions max(first, start) … start+count-1; the last position of
                # the chunk predicts nothing inside it, as in llama.cpp.
                p0 = max(first, start)
                rows = min(n_out, n_ctx - 1 - p0)
                if rows <= 0:
                    continue
                logits = np.ctypeslib.as_array(L.llama_get_logits(session.ctx), shape=(n_out, n_vocab))
                targets = np.asarray(window[p0 + 1 : p0 + 1 + rows], dtype=np.int64)
                base_rows = base[scored : scored + rows] if base is not None else None
                _process_rows(logits[:rows], targets, base_rows, writer, sums)
                scored += rows
            send(Progress(f"scoring chunk {chunk + 1}/{n_chunks}", (chunk + 1) / n_chunks))
    finally:
        L.llama_batch_free(batch)


def _fill_batch(batch: Any, inputs: list[int], start: int, count: int, first: int) -> int:
    """Put inputs[start:start+count] in `batch` at their positions; return how many output logits."""
    n_out = 0
    for k in range(count):
        pos = start + k
        batch.token[k] = inputs[pos]
        batch.pos[k] = pos
        batch.n_seq_id[k] = 1
        batch.seq_id[k][0] = 0
        wanted = pos >= first
        batch.logits[k] = 1 if wanted else 0
        n_out += wanted
    batch.n_tokens = count
    return n_out


def _process_rows(
    logits: np.ndarray, targets: np.ndarray, base: np.ndarray | None, writer: BinaryIO | None, sums: _Sums
) -> None:
    """Add the NLL (and KL divergence) of each row to `sums`; store quantized log-probs if asked."""
    for lo in range(0, logits.shape[0], _ROWS_PER_BLOCK):
        x = logits[lo : lo + _ROWS_PER_BLOCK]
        tgt = targets[lo : lo + _ROWS_PER_BLOCK]
        index = np.arange(x.shape[0])
        max_logit = x.max(axis=1)
        shifted = x - max_logit[:, None]
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1, dtype=np.float64)).astype(np.float32)
        nll = (max_logit + log_sum_exp - x[index, tgt]).astype(np.float64)
        sums.nll += float(nll.sum())
        sums.nll2 += float((nll * nll).sum())
        sums.count += x.shape[0]
        if writer is not None:
            writer.write(_quantize_rows(x, max_logit, log_sum_exp).tobytes())
        if base is not None:
            _add_kld(shifted - log_sum_exp[:, None], nll, tgt, base[lo : lo + _ROWS_PER_BLOCK], x, sums)


def _quantize_rows(x: np.ndarray, max_logit: np.ndarray, log_sum_exp: np.ndarray) -> np.ndarray:
    """Return llama.cpp's uint16 encoding of the rows' log-probabilities (one row per token)."""
    rows, n_vocab = x.shape
    min_logit = np.maximum(x.min(axis=1), max_logit - 16.0).astype(np.float32)
    scale = ((max_logit - min_logit) / np.float32(65535.0)).astype(np.float32)
    header = np.empty((rows, 2), dtype=np.float32)
    header[:, 0] = scale
    header[:, 1] = min_logit - max_logit - log_sum_exp
    out = np.zeros((rows, row_width(n_vocab)), dtype=np.uint16)
    out[:, :4] = header.view(np.uint16)
    inv_scale = np.divide(np.float32(1.0), scale, out=np.zeros_like(scale), where=scale > 0)
    # nearest_int() in llama.cpp rounds half to even, as np.rint does.
    scaled = np.rint((x - min_logit[:, None]) * inv_scale[:, None])
    out[:, 4 : 4 + n_vocab] = np.where(x > min_logit[:, None], scaled, 0).astype(np.uint16)
    return out


def _add_kld(
    log_probs: np.ndarray, nll: np.ndarray, targets: np.ndarray, base: np.ndarray, x: np.ndarray, sums: _Sums
) -> None:
    """Add KL(base ‖ this), top-1 agreement and the base's NLL of these rows to `sums`."""
    n_vocab = x.shape[1]
    header = np.ascontiguousarray(base[:, :4]).view(np.float32)
    scale, min_log_prob = header[:, 0:1], header[:, 1:2]
    quantized = base[:, 4 : 4 + n_vocab]
    base_log_probs = scale * quantized + min_log_prob
    weights = np.where(base_log_probs > _LOG_PROB_FLOOR, np.exp(base_log_probs), np.float32(0.0))
    kld = (weights * (base_log_probs - log_probs)).sum(axis=1, dtype=np.float64)
    sums.kld += float(kld.sum())
    sums.kld2 += float((kld * kld).sum())
    sums.kld_values.append(kld.astype(np.float32))
    # argmax picks the first maximum, like llama.cpp; the uint16 codes order like the log-probs.
    sums.same_top += int((x.argmax(axis=1) == quantized.argmax(axis=1)).sum())
    index = np.arange(x.shape[0])
    nll_base = -(scale[:, 0] * quantized[index, targets] + min_log_prob[:, 0]).astype(np.float64)
    sums.nll_base += float(nll_base.sum())
    sums.nll_base2 += float((nll_base * nll_base).sum())
    sums.nll_nll_base += float((nll * nll_base).sum())
    p_diff = np.exp(-nll) - np.exp(-nll_base)
    sums.p_diff2 += float((p_diff**2).sum())
    sums.p_diff4 += float((p_diff**4).sum())


# -- the log-probability file ----------------------------------------------------------------


def _open_writer(
    path: str | None, tokens: list[int], n_ctx: int, n_chunks: int, n_vocab: int
) -> BinaryIO | None:
    if path is None:
        return None
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    needed = logprob_file_bytes(n_ctx, n_chunks, n_vocab)
    free = shutil.disk_usage(target.parent).free
    if needed > free:
        raise ScoringFailed(
            f"the reference's log-probabilities need {needed / 2**30:.1f} GiB in {target.parent} "
            f"but only {free / 2**30:.1f} GiB is free; free some space or score fewer chunks"
        )
    handle = open(target, "wb")  # noqa: SIM115 (closed by score_text)
    handle.write(MAGIC + struct.pack("<Iii", n_ctx, n_vocab, n_chunks))
    handle.write(np.asarray(tokens[: n_chunks * n_ctx], dtype=np.int32).tobytes())
    return handle


def _open_reader(
    path: str | None, tokens: list[int], n_ctx: int, n_chunks: int, n_vocab: int
) -> BinaryIO | None:
    if path is None:
        return None
    handle = open(path, "rb")  # noqa: SIM115 (closed by score_text)
    try:
        head = handle.read(len(MAGIC) + 12)
        if len(head) < len(MAGIC) + 12 or head[: len(MAGIC)] != MAGIC:
            raise ScoringFailed(f"{path} is not a file of reference log-probabilities")
        file_ctx, file_vocab, file_chunks = struct.unpack("<Iii", head[len(MAGIC) :])
        if file_vocab != n_vocab:
            raise ScoringFailed(
                f"the reference has a vocabulary of {file_vocab} tokens and this model {n_vocab}; "
                "KL divergence needs models with the same tokenizer"
            )
        if file_ctx != n_ctx or file_chunks < n_chunks:
            raise ScoringFailed(
                f"the reference was scored with context {file_ctx} over {file_chunks} chunks; "
                f"this run asks for context {n_ctx} over {n_chunks} chunks"
            )
        stored = _read_rows(handle, file_ctx * file_chunks, np.int32)
        if not np.array_equal(
            stored[: n_chunks * n_ctx], np.asarray(tokens[: n_chunks * n_ctx], dtype=np.int32)
        ):
            raise ScoringFailed(
                "the reference model tokenizes the text differently; KL divergence needs models "
                "with the same tokenizer"
            )
    except BaseException:
        handle.close()
        raise
    return handle


def _read_rows(handle: BinaryIO, count: int, dtype: Any = np.uint16) -> np.ndarray:
    data = np.fromfile(handle, dtype=dtype, count=count)
    if data.size != count:
        raise ScoringFailed("the reference log-probability file ends early (was its scoring interrupted?)")
    return data


# -- greedy answer ---------------------------------------------------------------------------


def greedy_tokens(session: Session, request: ScoreText, cancelled: Callable[[], bool]) -> tuple[int, ...]:
    """Return the token ids of the argmax answer to request.greedy_messages (stops at end-of-generation)."""
    L.llama_memory_clear(L.llama_get_memory(session.ctx), True)
    session.cached_tokens.clear()
    prompt = prompt_tokens(session, Generate(messages=request.greedy_messages))
    room = session.n_ctx - len(prompt)
    if room <= 0:
        raise ScoringFailed(f"the greedy prompt has {len(prompt)} tokens; the context holds {session.n_ctx}")
    evaluate_prompt(session, prompt, 0, cancelled)
    n_vocab = L.llama_vocab_n_tokens(session.vocab)
    one = (L.llama_token * 1)()
    batch = L.llama_batch_get_one(one, 1)
    answer: list[int] = []
    for _ in range(min(request.greedy_max_tokens, room)):
        if cancelled():
            raise ScoringFailed("scoring was cancelled")
        row = np.ctypeslib.as_array(L.llama_get_logits_ith(session.ctx, -1), shape=(n_vocab,))
        token = int(row.argmax())
        answer.append(token)
        if L.llama_vocab_is_eog(session.vocab, token):
            break
        one[0] = token
        if L.llama_decode(session.ctx, batch) != 0:
            raise ScoringFailed("llama_decode failed during the greedy answer")
    return tuple(answer)


# -- statistics ------------------------------------------------------------------------------


def _mean_and_uncertainty(total: float, total2: float, count: int) -> tuple[float, float]:
    """Return llama.cpp's (mean, standard error); the error is 0 for fewer than 11 values."""
    if count < 1:
        return 0.0, 0.0
    mean = total / count
    variance = total2 / count - mean * mean
    return mean, (float(np.sqrt(variance / (count - 1))) if variance > 0 and count > 10 else 0.0)


def _result(
    sums: _Sums,
    n_ctx: int,
    n_chunks: int,
    text_tokens: int,
    compared: bool,
    greedy: tuple[int, ...],
    seconds: float,
) -> TextScore:
    count = sums.count
    mean_nll, nll_err = _mean_and_uncertainty(sums.nll, sums.nll2, count)
    ppl = float(np.exp(mean_nll))
    # perplexity() reports its uncertainty for any count, unlike kl_divergence()'s helper.
    variance = sums.nll2 / count - mean_nll * mean_nll if count else 0.0
    ppl_err = float(np.sqrt(variance / (count - 1))) if variance > 0 and count > 1 else 0.0
    extra: dict[str, Any] = {}
    if compared and count:
        kld_mean, kld_err = _mean_and_uncertainty(sums.kld, sums.kld2, count)
        values = np.sort(np.concatenate(sums.kld_values))
        top1 = sums.same_top / count
        mean_base, base_err = _mean_and_uncertainty(sums.nll_base, sums.nll_base2, count)
        cov = 0.0
        if count >= 10:
            cov = (sums.nll_nll_base / count - (sums.nll / count) * (sums.nll_base / count)) / (count - 1)
        ratio_var = nll_err**2 + base_err**2 - 2.0 * cov
        extra = {
            "kld_mean": kld_mean,
            "kld_stderr": kld_err,
            "kld_p99": _percentile(values, 0.99),
            "kld_median": float(np.median(values)),
            "kld_max": float(values[-1]),
            "top1_agreement": top1,
            "top1_stderr": float(np.sqrt(top1 * (1 - top1) / (count - 1))) if count > 1 else 0.0,
            "ppl_base": float(np.exp(mean_base)),
            "ln_ppl_ratio": mean_nll - mean_base,
            "ln_ppl_ratio_stderr": float(np.sqrt(max(ratio_var, 0.0))),
            "p_diff_rms": float(np.sqrt(sums.p_diff2 / count)),
        }
    return TextScore(
        n_ctx=n_ctx,
        chunks=n_chunks,
        tokens_scored=count,
        nll_sum=sums.nll,
        nll2_sum=sums.nll2,
        ppl=ppl,
        ppl_stderr=ppl * ppl_err,
        kld_mean=extra.pop("kld_mean", None),
        kld_stderr=extra.pop("kld_stderr", None),
        kld_p99=extra.pop("kld_p99", None),
        top1_agreement=extra.pop("top1_agreement", None),
        seconds=seconds,
        text_tokens=text_tokens,
        greedy_tokens=greedy,
        **extra,
    )


def _percentile(values: np.ndarray, fraction: float) -> float:
    """Return llama.cpp's interpolated percentile of sorted `values`."""
    position = fraction * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    return float((1 - (position - low)) * values[low] + (position - low) * values[high])
