"""`edgeapp bench REF…`: time, memory, cost and EQ of each model on the same prompt, interleaved."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgeapp.cli import output

FORMATS = ("json", "csv", "md")


def register(subparsers: Any) -> None:
    """Add the `bench` command."""
    parser = subparsers.add_parser(
        "bench",
        help="measure load time, TTFT, tokens/s, peak memory, cost and EQ of one or more models",
        description="Run the same prompt on each model, one engine process at a time: a warm-up, then "
        "--reps repetitions interleaved across models (A B A B …) so drift hits all alike. Greedy "
        "decoding with end-of-sequence ignored, so every repetition writes exactly --n-predict tokens. "
        "Cost = price per hour × inference time / 3600 and EQ = 1 / (cost × time), as in seed 000.",
    )
    parser.add_argument("refs", nargs="+", metavar="REF", help="models to measure")
    add_prompt_arguments(parser)
    parser.add_argument(
        "--n-predict", type=int, default=512, metavar="N", help="tokens per answer (default 512)"
    )
    parser.add_argument(
        "--reps", type=int, default=3, metavar="R", help="measured repetitions per model (default 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, metavar="N", help="unmeasured warm-up rounds (default 1)"
    )
    add_run_arguments(parser, default_ctx=2048)
    parser.add_argument(
        "--price-per-hour", type=float, metavar="USD", help="machine price (default: settings, 0.768)"
    )
    parser.add_argument("--raw", action="store_true", help="send the prompt as is, without the chat template")
    add_output_arguments(parser)
    parser.set_defaults(run=run)


def add_prompt_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a command --prompt, --prompt-file and --preset."""
    parser.add_argument("--prompt", metavar="TEXT", help="the prompt (default: the Grandville preset)")
    parser.add_argument("--prompt-file", metavar="F", help="read the prompt from a file")
    parser.add_argument("--preset", metavar="NAME", help="a named prompt: grandville (seed 000's), short")


def add_run_arguments(parser: argparse.ArgumentParser, default_ctx: int) -> None:
    """Give a command --gpu-layers, --threads and --ctx."""
    parser.add_argument(
        "--gpu-layers", default="auto", metavar="N|auto|all", help="layers on the GPU (default auto)"
    )
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: physical cores)")
    parser.add_argument(
        "--ctx", type=int, default=default_ctx, metavar="N", help=f"context size (default {default_ctx})"
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a command --json/--csv/--md, --out DIR, --plot and --no-cache."""
    output.add_json_flag(parser)
    parser.add_argument("--csv", action="store_true", help="print CSV on stdout")
    parser.add_argument("--md", action="store_true", help="print Markdown on stdout")
    parser.add_argument(
        "--out", metavar="DIR", help="also write report.md, results.json, CSV and PNG plots to DIR"
    )
    parser.add_argument(
        "--plot", action="store_true", help="draw the size/quality/speed plots in the terminal"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="do not remember the results for `edgeapp pick`"
    )


def output_format(args: argparse.Namespace) -> str | None:
    """Return "json", "csv", "md" or None (a terminal table); UsageError if several are asked."""
    from edgeapp.errors import UsageError

    chosen = [name for name in FORMATS if getattr(args, name, False)]
    if len(chosen) > 1:
        raise UsageError("give only one of --json, --csv and --md")
    return chosen[0] if chosen else None


def progress(message: str) -> None:
    """Print one progress line on stderr (stdout stays clean for --json/--csv/--md)."""
    print(f"  {message}", file=sys.stderr, flush=True)


def check_positive(**values: int | None) -> None:
    """Raise UsageError naming the first option that is not a positive number."""
    from edgeapp.errors import UsageError

    for name, value in values.items():
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")


def gpu_layers_for(value: str, models: list[Any], hw: Any, n_ctx: int) -> int:
    """Return one GPU layer count for every model: the smallest that `auto` gives any of them."""
    from edgeapp.bench.subjects import resolve_gpu_layers
    from edgeapp.errors import UsageError
    from edgeapp.settings import parse_gpu_layers

    try:
        parsed = parse_gpu_layers(value)
    except ValueError as error:
        raise UsageError(str(error)) from None
    layers = [resolve_gpu_layers(parsed, model, hw, n_ctx) for model in models]
    # The same setting for every model keeps the comparison fair; -1 (all) counts as the largest.
    return min(layers, key=lambda n: float("inf") if n < 0 else n)


def run(args: argparse.Namespace) -> int:
    """Benchmark the models and print the report; return 0, or 1 if a model could not be measured."""
    from edgeapp.bench.cache import MeasurementCache, describe_machine, machine_key
    from edgeapp.bench.presets import choose_prompt
    from edgeapp.bench.recording import record_bench
    from edgeapp.bench.runner import BenchSettings, run_bench
    from edgeapp.bench.subjects import materialize_all
    from edgeapp.hardware import probe_hardware
    from edgeapp.settings import load_settings

    fmt = output_format(args)
    check_positive(n_predict=args.n_predict, reps=args.reps, ctx=args.ctx, threads=args.threads)
    if args.warmup < 0:
        from edgeapp.errors import UsageError

        raise UsageError("--warmup cannot be negative")
    prompt = choose_prompt(args.prompt, args.prompt_file, args.preset)
    user = load_settings()
    hw = probe_hardware()
    key = machine_key(hw)
    models = materialize_all(args.refs, progress)
    settings = BenchSettings(
        prompt=prompt.text,
        prompt_name=prompt.name,
        n_predict=args.n_predict,
        reps=args.reps,
        warmup=args.warmup,
        n_ctx=args.ctx,
        gpu_layers=gpu_layers_for(args.gpu_layers, models, hw, args.ctx),
        threads=args.threads,
        price_per_hour=user.price_per_hour if args.price_per_hour is None else args.price_per_hour,
        seed=user.seed,
        chat=not args.raw,
    )
    report = run_bench(models, settings, describe_machine(hw, key), progress)
    if not args.no_cache:
        record_bench(report, MeasurementCache(key))
    emit(fmt, args, bench=report)
    failed = [run for run in report.runs if run.error is not None]
    for run in failed:
        output.warn(f"{run.model.label} could not be measured: {run.error}")
    return 1 if failed else 0


def emit(fmt: str | None, args: argparse.Namespace, bench: Any = None, compare: Any = None) -> None:
    """Print a bench or compare report in the chosen format; write --out and --plot if asked."""
    from edgeapp.bench import plots, report

    if fmt == "json":
        output.emit_json(bench.to_json() if bench is not None else compare.to_json())
    elif fmt == "csv":
        sys.stdout.write(report.bench_csv(bench) if bench is not None else report.compare_csv(compare))
    elif fmt == "md":
        sys.stdout.write(
            report.bench_markdown(bench) if bench is not None else report.compare_markdown(compare)
        )
    else:
        print(report.bench_text(bench) if bench is not None else report.compare_text(compare))
    if args.plot:
        drawing = plots.terminal_plot(plots.plot_points(bench, compare), colorless=not sys.stdout.isatty())
        print(drawing, file=sys.stderr if fmt else sys.stdout)
    if args.out:
        written, note = report.write_report_dir(args.out, bench=bench, compare=compare)
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
        if note:
            output.warn(note)
