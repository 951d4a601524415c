"""`edgeapp compare A B…`: perplexity, KL divergence, top-1 and greedy agreement against a reference."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgeapp.cli.cmd_bench import (
    add_output_arguments,
    add_prompt_arguments,
    add_run_arguments,
    check_positive,
    emit,
    gpu_layers_for,
    output_format,
)


def register(subparsers: Any) -> None:
    """Add the `compare` command."""
    parser = subparsers.add_parser(
        "compare",
        help="quality of quants against a reference: perplexity, KL divergence, top-1 and greedy agreement",
        description="Score each model on a text with llama-perplexity's protocol (chunks of --ctx tokens, "
        "second half of each scored) and compare its next-token distributions with the reference's "
        "(default: the most precise model given): mean and 99th-percentile KL divergence, how often the "
        "top token agrees, and how many tokens of a greedy answer match. Also reports speed and peak memory.",
    )
    parser.add_argument("refs", nargs="+", metavar="REF", help="models to compare")
    parser.add_argument("--reference", metavar="REF", help="the reference (default: the most precise model)")
    parser.add_argument(
        "--text", metavar="FILE", help="evaluation text (default: the one shipped with edgeapp)"
    )
    parser.add_argument(
        "--chunks", type=int, metavar="N", help="score only the first N chunks (default: all)"
    )
    parser.add_argument("--batch", type=int, default=512, metavar="N", help="decode batch size (default 512)")
    parser.add_argument(
        "--greedy-tokens", type=int, default=64, metavar="N", help="greedy answer length (default 64)"
    )
    parser.add_argument(
        "--n-predict",
        type=int,
        default=128,
        metavar="N",
        help="tokens of the speed run (default 128, 0: none)",
    )
    add_prompt_arguments(parser)
    add_run_arguments(parser, default_ctx=512)
    add_output_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Compare the models and print the report; return 0."""
    from edgeapp.bench.cache import MeasurementCache, describe_machine, machine_key
    from edgeapp.bench.presets import choose_prompt
    from edgeapp.bench.quality import CompareSettings, run_compare
    from edgeapp.bench.recording import record_compare
    from edgeapp.bench.subjects import materialize_all
    from edgeapp.bench.text import load_text
    from edgeapp.errors import UsageError
    from edgeapp.hardware import probe_hardware

    fmt = output_format(args)
    check_positive(chunks=args.chunks, batch=args.batch, ctx=args.ctx, threads=args.threads)
    if args.ctx < 16:
        raise UsageError("--ctx must be at least 16 for a perplexity run")
    if args.greedy_tokens < 0 or args.n_predict < 0:
        raise UsageError("--greedy-tokens and --n-predict cannot be negative")
    prompt = choose_prompt(args.prompt, args.prompt_file, args.preset)
    text = load_text(args.text)
    refs = list(args.refs)
    if args.reference and args.reference not in refs:
        refs.insert(0, args.reference)
    models = materialize_all(refs, _say)
    if len(models) < 2:
        raise UsageError("compare needs at least two models (or one model and --reference)")
    reference = models[refs.index(args.reference)] if args.reference else None
    hw = probe_hardware()
    key = machine_key(hw)
    settings = CompareSettings(
        n_ctx=args.ctx,
        max_chunks=args.chunks,
        n_batch=args.batch,
        greedy_tokens=args.greedy_tokens,
        prompt=prompt.text,
        n_predict=args.n_predict,
        gpu_layers=gpu_layers_for(args.gpu_layers, models, hw, args.ctx),
        threads=args.threads,
    )
    report = run_compare(models, text, settings, reference, describe_machine(hw, key), _progress())
    if not args.no_cache:
        record_compare(report, MeasurementCache(key))
    emit(fmt, args, compare=report)
    return 0


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _progress() -> Any:
    """Return a progress callback that prints each model's steps, and chunk progress every 10%."""
    last: dict[str, int] = {}

    def report(message: str, fraction: float | None) -> None:
        model, _, what = message.rpartition(": ")
        if fraction is None or not what.startswith("scoring chunk"):
            _say(message)
            return
        tenth = int(fraction * 10)
        if last.get(model) != tenth:
            last[model] = tenth
            _say(f"{message} ({fraction:.0%})")

    return report
