#!/usr/bin/env python3
"""edgeapp against the llama.cpp it vendors, on the bundled model's quants, in one run.

For each quant it reports
- speed: edgeapp's generation tokens/s (its real decode loop: greedy sampling in the graph,
  detokenizing, streaming to the parent; 128 tokens after a 4-token raw prompt) divided by
  llama-bench's tg128 (pure decode, no sampling) with the same threads and GPU layers;
- perplexity: edgeapp's (ScoreText) divided by llama-perplexity's, same text, context, batch
  and chunk count; they should agree within 0.5%;
- KL divergence against the most precise quant, edgeapp's and llama-perplexity
  --kl-divergence's.

llama-bench and llama-perplexity are built by benchmarks/build_llama_tools.sh from the llama.cpp
that the installed llama-cpp-python vendors (or taken from --bin). Run it on a quiet machine:
    .venv/bin/python benchmarks/vs_llama_cpp.py --md docs/vs_llama_cpp_result.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_QUANTS = "Q2_K,Q4_K_M,bundled,Q8_0,F16"
TG_PROMPT = "Once upon a time"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quants",
        default=DEFAULT_QUANTS,
        help=f"default:QUANT list; 'bundled' = the shipped Q4_1 (default {DEFAULT_QUANTS})",
    )
    parser.add_argument("--bin", help="directory with llama-bench and llama-perplexity (default: build them)")
    parser.add_argument("--threads", type=int, help="threads for both (default: physical cores)")
    parser.add_argument(
        "--gpu-layers",
        type=int,
        default=0,
        help="GPU layers for both (default 0; the build script makes a CPU build unless CMAKE_EXTRA_ARGS says otherwise)",
    )
    parser.add_argument("--reps", type=int, default=3, help="speed repetitions (default 3)")
    parser.add_argument("--n-gen", type=int, default=128, help="generated tokens (default 128: tg128)")
    parser.add_argument("--ctx", type=int, default=512, help="perplexity context (default 512)")
    parser.add_argument("--chunks", type=int, default=8, help="perplexity chunks (default 8)")
    parser.add_argument("--text", help="evaluation text (default: edgeapp's shipped text)")
    parser.add_argument("--md", help="also write the Markdown result to this file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    return parser.parse_args(argv)


def build_tools() -> Path:
    """Return the bin directory of llama-bench and llama-perplexity, building them if needed."""
    script = HERE / "build_llama_tools.sh"
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, env=env, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def quant_files(quants: str) -> dict[str, Path]:
    """Return {label: file} for each quant of the bundled model, deriving them if needed."""
    from edgeapp import refs

    files = {}
    for name in (q.strip() for q in quants.split(",") if q.strip()):
        ref = "default" if name.lower() == "bundled" else f"default:{name}"
        model = refs.materialize(refs.resolve(ref), lambda message: print(f"  {message}", file=sys.stderr))
        files[model.quant or name] = Path(str(model.path))
    return files


def _say(message: str) -> None:
    print(f"  edgeapp: {message}", file=sys.stderr, flush=True)


def run_tool(command: list[str], log: list[str]) -> str:
    """Run a llama.cpp tool; return stdout and stderr together; remember the command line."""
    log.append(shlex.join(command))
    print(f"  $ {shlex.join(command)}", file=sys.stderr, flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({result.returncode}):\n{result.stdout[-3000:]}")
    return result.stdout


def llama_bench_tg(
    bin_dir: Path, path: Path, args: argparse.Namespace, threads: int, log: list[str]
) -> tuple[float, float]:
    """Return llama-bench's tg<n> mean and standard deviation in tokens/s."""
    command = [str(bin_dir / "llama-bench"), "-m", str(path), "-p", "0", "-n", str(args.n_gen),
               "-r", str(args.reps), "-t", str(threads), "-ngl", str(args.gpu_layers), "-o", "json"]  # fmt: skip
    text = run_tool(command, log)
    data = json.loads(text[text.index("[") : text.rindex("]") + 1])
    return float(data[0]["avg_ts"]), float(data[0]["stddev_ts"])


def edgeapp_tg(path: Path, args: argparse.Namespace, threads: int) -> tuple[float, float]:
    """Return edgeapp's generation tokens/s mean and standard deviation (its bench runner)."""
    from edgeapp.bench.runner import BenchSettings, run_bench
    from edgeapp.refs import resolve

    settings = BenchSettings(prompt=TG_PROMPT, prompt_name="raw", n_predict=args.n_gen, reps=args.reps,
                             warmup=1, n_ctx=512, gpu_layers=args.gpu_layers, threads=threads, chat=False)  # fmt: skip
    run = run_bench([resolve(str(path))], settings, on_progress=_say).runs[0]
    return run.gen_tps, run.gen_tps_sd


_PPL = re.compile(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)")
_KLD = re.compile(r"Mean\s+KLD:\s+([-\d.]+)\s+±\s+([-\d.]+)")
_TOP = re.compile(r"Same top p:\s+([\d.]+)\s+±")


def llama_ppl(
    bin_dir: Path, path: Path, text_file: Path, args: argparse.Namespace, threads: int, log: list[str]
) -> float:
    """Return llama-perplexity's PPL with one sequence per batch, as edgeapp decodes."""
    command = [str(bin_dir / "llama-perplexity"), "-m", str(path), "-f", str(text_file), "-c", str(args.ctx),
               "-b", str(args.ctx), "--chunks", str(args.chunks), "-t", str(threads), "-ngl", str(args.gpu_layers)]  # fmt: skip
    match = _PPL.search(run_tool(command, log))
    if not match:
        raise SystemExit("llama-perplexity printed no final estimate")
    return float(match.group(1))


def llama_kld(bin_dir: Path, base: Path, others: dict[str, Path], text_file: Path, args: argparse.Namespace,
              threads: int, log: list[str]) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Return {quant: (mean KLD, same-top fraction)} from llama-perplexity --kl-divergence."""
    common = [
        "-c",
        str(args.ctx),
        "-b",
        str(args.ctx),
        "--chunks",
        str(args.chunks),
        "-t",
        str(threads),
        "-ngl",
        str(args.gpu_layers),
    ]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        logits = str(Path(tmp) / "base.kld")
        tool = str(bin_dir / "llama-perplexity")
        run_tool([tool, "-m", str(base), "-f", str(text_file), "--kl-divergence-base", logits, *common], log)
        for quant, path in others.items():
            out = run_tool(
                [tool, "-m", str(path), "--kl-divergence-base", logits, "--kl-divergence", *common], log
            )
            kld, top = _KLD.search(out), _TOP.search(out)
            if not kld or not top:
                raise SystemExit("llama-perplexity --kl-divergence printed no statistics")
            results[quant] = (float(kld.group(1)), float(top.group(1)) / 100)
    return results


def edgeapp_quality(
    files: dict[str, Path], text_path: Path | None, args: argparse.Namespace, threads: int
) -> dict[str, Any]:
    """Return {quant: QualityRow} from edgeapp's compare, the most precise quant as reference."""
    from edgeapp.bench.quality import CompareSettings, run_compare
    from edgeapp.bench.text import load_text
    from edgeapp.refs import resolve

    models = [resolve(str(path)) for path in files.values()]
    settings = CompareSettings(n_ctx=args.ctx, max_chunks=args.chunks, n_batch=args.ctx, greedy_tokens=0,
                               n_predict=0, gpu_layers=args.gpu_layers, threads=threads)  # fmt: skip
    report = run_compare(
        models, load_text(text_path), settings, on_progress=lambda message, _fraction: _say(message)
    )
    by_path = {str(row.model.path): row for row in report.rows}
    return {quant: by_path[str(path.resolve())] for quant, path in files.items()}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from edgeapp.bench.subjects import precision_order
    from edgeapp.bench.text import default_text_path
    from edgeapp.engine.session import physical_cores
    from edgeapp.hardware import probe_hardware, probe_summary
    from edgeapp.refs import resolve

    threads = args.threads or physical_cores()
    bin_dir = Path(args.bin) if args.bin else build_tools()
    files = quant_files(args.quants)
    text_file = Path(args.text) if args.text else default_text_path()
    log: list[str] = []
    rows: dict[str, dict[str, Any]] = {
        q: {"quant": q, "path": str(p), "size_bytes": p.stat().st_size} for q, p in files.items()
    }
    for quant, path in files.items():  # speed: llama-bench then edgeapp, model by model
        print(f"speed {quant}", file=sys.stderr, flush=True)
        rows[quant]["tg_llama_bench"], rows[quant]["tg_llama_bench_sd"] = llama_bench_tg(
            bin_dir, path, args, threads, log
        )
        rows[quant]["tg_edgeapp"], rows[quant]["tg_edgeapp_sd"] = edgeapp_tg(path, args, threads)
        rows[quant]["ppl_llama"] = llama_ppl(bin_dir, path, text_file, args, threads, log)
    quality = edgeapp_quality(files, Path(args.text) if args.text else None, args, threads)
    most_precise = precision_order([resolve(str(p)) for p in files.values()])[0]
    reference = next(q for q, p in files.items() if p.resolve() == most_precise.path)
    others = {q: p for q, p in files.items() if q != reference}
    kld = llama_kld(bin_dir, files[reference], others, text_file, args, threads, log) if others else {}
    for quant, row in rows.items():
        mine = quality[quant]
        row["ppl_edgeapp"] = mine.score.ppl
        row["kld_edgeapp"], row["top1_edgeapp"] = mine.kld_mean, mine.top1_agreement
        row["kld_llama"], row["top1_llama"] = kld.get(quant, (0.0, 1.0))
        row["tg_ratio"] = row["tg_edgeapp"] / row["tg_llama_bench"]
        row["ppl_ratio"] = row["ppl_edgeapp"] / row["ppl_llama"]
    return {
        "machine": probe_summary(probe_hardware()),
        "threads": threads,
        "gpu_layers": args.gpu_layers,
        "reference": reference,
        "settings": {
            "n_gen": args.n_gen,
            "reps": args.reps,
            "ctx": args.ctx,
            "chunks": args.chunks,
            "text": str(text_file),
        },
        "measured_at": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commands": log,
        "rows": list(rows.values()),
    }


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"Machine: {result['machine']} · {result['threads']} threads · GPU layers {result['gpu_layers']} · {result['measured_at']}",
        "",
        f"Speed: tg{s['n_gen']}, {s['reps']} repetitions. Perplexity: {s['chunks']} chunks of {s['ctx']} tokens of "
        f"{Path(s['text']).name}. KL divergence against {result['reference']}.",
        "",
        "| quant | size MiB | llama-bench tg t/s | edgeapp gen t/s | ratio | llama-perplexity PPL | edgeapp PPL | PPL ratio | KLD llama.cpp | KLD edgeapp | same top llama.cpp | same top edgeapp |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['quant']} | {r['size_bytes'] / 2**20:.1f} | {r['tg_llama_bench']:.2f} ± {r['tg_llama_bench_sd']:.2f} | "
            f"{r['tg_edgeapp']:.2f} ± {r['tg_edgeapp_sd']:.2f} | {r['tg_ratio']:.3f} | {r['ppl_llama']:.4f} | "
            f"{r['ppl_edgeapp']:.4f} | {r['ppl_ratio']:.5f} | {r['kld_llama']:.5f} | {r['kld_edgeapp']:.5f} | "
            f"{100 * r['top1_llama']:.2f}% | {100 * r['top1_edgeapp']:.2f}% |"
        )
    lines += ["", "Commands:", "", "```", *result["commands"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = measure(args)
    text = markdown(result)
    if args.md:
        Path(args.md).write_text(text, encoding="utf-8")
    print(json.dumps(result, indent=2) if args.json else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
