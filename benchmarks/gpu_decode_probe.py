#!/usr/bin/env python3
"""Where does decode time go on a GPU? One model, in this process, several decode loops side by side.

llama-bench's tg test decodes the same token over and over and never samples; edgeapp samples
every token and streams text. This script times, for the same file and context:

- `bare`: the llama-bench loop from Python (llama_decode of one token + llama_synchronize) —
  what ctypes alone costs per token;
- `edgeapp`: edgeapp's decode loop (`engine.generate`, greedy, the sampler chain inside the graph);
- `edgeapp-cpu-sampler`: the same loop with the sampler run on the CPU (logits copied out);
- `edgeapp+nvml20`, `edgeapp+nvml2`: edgeapp's loop while another thread reads this process's
  VRAM through NVML 20 (2) times a second, as the parent's resource monitor did (does).

llama.cpp's DEBUG log lines are dropped, as in the engine process.

    python benchmarks/gpu_decode_probe.py MODEL.gguf [--ctx 2048] [--tokens 256] [--reps 5] [--gpu-layers -1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class _Flag:
    value = 0


def _bare(session, tokens: int) -> float:  # type: ignore[no-untyped-def]
    import llama_cpp as L

    L.llama_memory_clear(L.llama_get_memory(session.ctx), True)
    session.cached_tokens.clear()
    one = (L.llama_token * 1)(L.llama_vocab_bos(session.vocab))
    batch = L.llama_batch_get_one(one, 1)
    L.llama_decode(session.ctx, batch)
    L.llama_synchronize(session.ctx)
    started = time.perf_counter()
    for _ in range(tokens):
        L.llama_decode(session.ctx, batch)
        L.llama_synchronize(session.ctx)
    rate = tokens / (time.perf_counter() - started)
    L.llama_memory_clear(L.llama_get_memory(session.ctx), True)
    return rate


def _edgeapp(session, tokens: int) -> float:  # type: ignore[no-untyped-def]
    from edgeapp.engine.generate import generate
    from edgeapp.engine.protocol import Generate, SamplingSettings

    request = Generate(
        prompt="Once upon a time", max_tokens=tokens, ignore_eos=True, sampling=SamplingSettings(temperature=0)
    )
    session.reuse_prefix([])  # start from an empty cache, as llama-bench does
    return generate(session, request, lambda _event: None, _Flag()).gen_tps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--gpu-layers", type=int, default=-1)
    args = parser.parse_args()

    import llama_cpp as L

    from edgeapp.engine import logs
    from edgeapp.engine.protocol import LoadModel
    from edgeapp.engine.session import Session

    logs.install(open(os.devnull, "w"))  # noqa: SIM115 - for the life of the process
    L.llama_backend_init()
    session, loaded = Session.load(LoadModel(path=args.model, n_ctx=args.ctx, gpu_layers=args.gpu_layers))
    print(f"{Path(args.model).name}: ctx {args.ctx}, {loaded.gpu_layers}/{loaded.n_layers} layers on the GPU")

    real_set_sampler = L.llama_set_sampler

    def cpu_sampler(session, tokens):  # type: ignore[no-untyped-def]
        L.llama_set_sampler = lambda *_args: False
        try:
            return _edgeapp(session, tokens)
        finally:
            L.llama_set_sampler = real_set_sampler

    def with_nvml(session, tokens, interval_s):  # type: ignore[no-untyped-def]
        from edgeapp.nvml import ProcessVramReader

        stop = threading.Event()
        reads = [0]

        def poll() -> None:
            with ProcessVramReader() as reader:
                while not stop.wait(interval_s):
                    reader.used_bytes(os.getpid())
                    reads[0] += 1

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            return _edgeapp(session, tokens)
        finally:
            stop.set()
            thread.join()

    variants = {
        "bare": _bare,
        "edgeapp": _edgeapp,
        "edgeapp-cpu-sampler": cpu_sampler,
        "edgeapp+nvml20": lambda session, tokens: with_nvml(session, tokens, 0.05),
        "edgeapp+nvml2": lambda session, tokens: with_nvml(session, tokens, 0.5),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():
        run(session, 32)  # warm-up
    for _ in range(args.reps):  # interleaved, so drift hits every variant alike
        for name, run in variants.items():
            rates[name].append(run(session, args.tokens))
    base = statistics.median(rates["bare"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(
            f"{name:22} {median:8.1f} tok/s  {1000 / median:6.3f} ms/token  ×{median / base:.3f} of bare  "
            f"({' '.join(f'{v:.0f}' for v in values)})"
        )
    session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
