#!/usr/bin/env python3
"""Compare edgeapp's memory estimate with the measured peak RSS (and VRAM) of the engine process.

For each bundled quant and context size: start a fresh engine, load, evaluate a ~130-token prompt,
generate 64 tokens, and take the peak RSS (the engine's own getrusage high-water mark and the
parent's 50 ms samples, whichever is higher); on a GPU also NVML's per-process VRAM. Prints one
row per case with the estimate (header + formula, and header + llama.cpp dry run) and the error.
Each estimate is made before its case is measured: on a GPU, a generation records the VRAM the
process holds beyond llama.cpp's buffers (CUDA context, cuBLAS workspace), which the estimator
adds, so a row is predicted from what the rows before it measured (the first from the default).

    python benchmarks/memory_estimate.py [--quants Q2_K,Q4_K_M,Q8_0,F16] [--ctx 512,2048,8192]
                                         [--gpu-layers 0|all|N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

PROMPT = (
    "Context: In a small town named Grandville, a well-known millionaire, Mr. Smith, has been "
    "mysteriously murdered at his mansion. No one has been able to solve the case yet. "
) * 4


def measure(path: str, n_ctx: int, gpu_layers: int) -> tuple[int, int | None, int]:
    """Return (peak RSS, peak VRAM or None, layers offloaded) of one load + generation."""
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import Finished, Generate, LoadModel, SamplingSettings

    with EngineClient(monitor_interval_s=0.02) as engine:
        loaded = engine.load(LoadModel(path=path, n_ctx=n_ctx, gpu_layers=gpu_layers))
        stats = None
        request = Generate(
            prompt=PROMPT, max_tokens=64, ignore_eos=True, sampling=SamplingSettings(temperature=0)
        )
        for event in engine.generate(request):
            if isinstance(event, Finished):
                stats = event.stats
        assert stats is not None and engine.monitor is not None
        engine.monitor.sample()
        return (
            max(stats.max_rss_bytes, engine.monitor.peak_rss_bytes),
            engine.monitor.peak_vram_bytes,
            loaded.gpu_layers,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quants", default="Q2_K,Q4_K_M,Q8_0,F16")
    parser.add_argument("--ctx", default="512,2048,8192")
    parser.add_argument("--gpu-layers", default="0", help="0, all, or a number")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from edgeapp.estimate import dry_run_estimate
    from edgeapp.memory_calibration import gpu_offload_possible
    from edgeapp.refs import materialize, resolve

    gpu_layers = -1 if args.gpu_layers == "all" else int(args.gpu_layers)
    gpu = gpu_offload_possible()
    rows = []
    header = f"{'quant':7} {'ctx':>5} {'ngl':>4} {'measured RSS':>13} {'formula':>9} {'err':>6} {'dry-run':>9} {'err':>6}"
    if gpu:
        header += f" {'VRAM (NVML)':>12} {'estimate':>9} {'err':>6}"
    if not args.json:
        print(header)
    for quant in args.quants.split(","):
        model = materialize(resolve(f"default:{quant}"))
        for n_ctx in (int(c) for c in args.ctx.split(",")):
            # Estimated before the measurement: on a GPU the measurement records the VRAM beyond
            # llama.cpp's buffers, so each row predicts from the previous row's calibration.
            exact = dry_run_estimate(model, n_ctx, gpu_layers)
            formula = _formula_only(model, n_ctx, gpu_layers, gpu)
            rss, vram, offloaded = measure(str(model.path), n_ctx, gpu_layers)
            row = {
                "quant": quant, "n_ctx": n_ctx, "gpu_layers": offloaded, "measured_rss_bytes": rss,
                "formula_ram_bytes": formula.ram_bytes, "formula_err_pct": 100 * (formula.ram_bytes / rss - 1),
                "dry_run_ram_bytes": exact.ram_bytes, "dry_run_err_pct": 100 * (exact.ram_bytes / rss - 1),
                "measured_vram_bytes": vram, "estimated_vram_bytes": exact.vram_bytes,
                "vram_err_pct": 100 * (exact.vram_bytes / vram - 1) if vram else None,
            }  # fmt: skip
            rows.append(row)
            if not args.json:
                line = (
                    f"{quant:7} {n_ctx:>5} {offloaded:>4} {rss / 2**20:>9.1f} MiB {formula.ram_bytes / 2**20:>9.1f} "
                    f"{row['formula_err_pct']:>+5.1f}% {exact.ram_bytes / 2**20:>9.1f} {row['dry_run_err_pct']:>+5.1f}%"
                )
                if gpu:
                    line += f" {(vram or 0) / 2**20:>8.1f} MiB {exact.vram_bytes / 2**20:>9.1f} {row['vram_err_pct'] or 0:>+5.1f}%"
                print(line, flush=True)
    worst = max(abs(r["dry_run_err_pct"]) for r in rows)
    if args.json:
        json.dump({"rows": rows, "worst_dry_run_err_pct": worst}, sys.stdout, indent=2)
        print()
    else:
        print(f"worst |error| with the dry run: {worst:.1f}% (target 5%)")
    return 0


def _formula_only(model, n_ctx: int, gpu_layers: int, gpu: bool):  # type: ignore[no-untyped-def]
    """Return the estimate without any cached dry run (weights from the header, compute by formula)."""
    from edgeapp.estimate import estimate_shape, model_shape

    return estimate_shape(model_shape(model), n_ctx, gpu_layers, gpu=gpu, dry_run=None)


if __name__ == "__main__":
    raise SystemExit(main())
