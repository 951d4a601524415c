"""`edgeapp quantize SRC --to Q2_K,Q8_0`: build a ladder of quants from one GGUF, each file atomically."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeapp.cli import output

_FULL_PRECISION = ("F32", "F16", "BF16")


def register(subparsers: Any) -> None:
    """Add the `quantize` command."""
    parser = subparsers.add_parser(
        "quantize",
        help="make smaller quants of a GGUF model (a quant ladder) with llama.cpp's quantizer",
        description="Quantize SRC (a REF or a .gguf path) to each quant of --to, default: every quant "
        "below the source's precision. Start from an F16/BF16 file: quants made from an already "
        "quantized file cannot be better than it. Each output is written to a temporary file and "
        "renamed into place, so an interrupted run leaves no half-written model.",
    )
    parser.add_argument("src", metavar="SRC", help="the source model: REF or a path to a .gguf file")
    parser.add_argument("--to", metavar="Q,Q…", help="comma-separated quants, e.g. Q2_K,Q4_K_M,Q8_0")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (default: beside a file SRC, else edgeapp's data directory)",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="quantizer threads (default: physical cores)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild outputs that already exist")
    output.add_json_flag(parser)
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Plan:
    """What a quantize run will do."""

    source: Path
    source_quant: str
    targets: tuple[str, ...]
    out_dir: Path
    warnings: tuple[str, ...]

    def output_path(self, quant: str) -> Path:
        """Return the file name for `quant`: the source's name with its quant replaced (or appended)."""
        name = self.source.name
        stem = name[: -len(".gguf")] if name.lower().endswith(".gguf") else name
        pattern = rf"(?<=[._-]){re.escape(self.source_quant)}(?=$|[._-])"
        renamed, count = re.subn(pattern, quant, stem, count=1, flags=re.IGNORECASE)
        return self.out_dir / f"{renamed if count else f'{stem}.{quant}'}.gguf"


def plan_ladder(src_ref: str, to: str | None, out: str | None) -> Plan:
    """Return the plan for `quantize SRC --to … --out …`; UsageError for impossible requests."""
    from edgeapp import refs
    from edgeapp.errors import UsageError
    from edgeapp.gguf_file import read_header
    from edgeapp.locations import data_directory
    from edgeapp.quants import QUANTS, is_known_quant, normalize_quant, quant_rank

    model = refs.materialize(refs.resolve(src_ref), lambda message: print(f"  {message}", file=sys.stderr))
    assert model.path is not None
    source_quant = read_header(model.path).quant_label().upper()
    source_rank = quant_rank(source_quant)
    if to:
        names = [normalize_quant(q.strip()) for q in to.split(",") if q.strip()]
        unknown = [q for q in names if not is_known_quant(q)]
        if unknown:
            raise UsageError(f"unknown quant {', '.join(unknown)}; known quants: {', '.join(QUANTS)}")
        targets = tuple(dict.fromkeys(names))
    else:
        targets = tuple(q for q in QUANTS if quant_rank(q) < source_rank)
        if not targets:
            raise UsageError(
                f"{model.path.name} is {source_quant}: there is no smaller quant on the ladder; name one with --to"
            )
    warnings = []
    if source_quant not in _FULL_PRECISION:
        warnings.append(
            f"{model.path.name} is already quantized ({source_quant}): quants made from it cannot be better than it "
            "and lose more than quants made from an F16/BF16 file"
        )
    not_smaller = [q for q in targets if quant_rank(q) >= source_rank]
    if not_smaller and source_quant not in _FULL_PRECISION:
        warnings.append(
            f"{', '.join(not_smaller)} will be larger than {source_quant} but no better: quality cannot exceed the source"
        )
    out_dir = (
        Path(out).expanduser()
        if out
        else (model.path.parent if model.kind == "path" else data_directory() / "quants")
    )
    plan = Plan(model.path, source_quant, targets, out_dir, tuple(warnings))
    for quant in targets:
        if plan.output_path(quant).resolve() == model.path.resolve():
            raise UsageError(f"{quant} would overwrite the source {model.path}; choose another --out")
    return plan


def run(args: argparse.Namespace) -> int:
    """Quantize the source to each target, printing a line per quant; return 0."""
    from edgeapp.errors import UsageError

    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    plan = plan_ladder(args.src, args.to, args.out)
    for warning in plan.warnings:
        output.warn(warning)
    results = _quantize_all(plan, args.threads, args.force, sys.stderr if args.json else sys.stdout)
    if args.json:
        output.emit_json(
            {
                "source": {
                    "path": str(plan.source),
                    "quant": plan.source_quant,
                    "size_bytes": plan.source.stat().st_size,
                },
                "out_dir": str(plan.out_dir),
                "warnings": list(plan.warnings),
                "outputs": results,
            }
        )
    return 0


def _quantize_all(plan: Plan, threads: int | None, force: bool, stream: Any) -> list[dict[str, Any]]:
    """Quantize to each target in one engine process; return one result entry per quant."""
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import Quantize

    results: list[dict[str, Any]] = []
    total = len(plan.targets)
    with EngineClient() as engine:
        for index, quant in enumerate(plan.targets, start=1):
            target = plan.output_path(quant)
            prefix = f"[{index}/{total}] {quant}"
            if target.exists() and not force:
                _line(stream, f"{prefix}: {target} exists, skipped (--force rebuilds it)")
                results.append(_entry(quant, target, target.stat().st_size, 0.0, "skipped"))
                continue
            _line(stream, f"{prefix}: quantizing {plan.source_quant} → {quant} …")
            started = time.perf_counter()
            try:
                done = engine.quantize(
                    Quantize(src=str(plan.source), dst=str(target), quant=quant, threads=threads)
                )
            except KeyboardInterrupt:
                engine.kill()  # the quantizer does not look at signals; stop it now
                _remove_partials(target)
                raise
            _line(
                stream,
                f"{prefix}: {output.format_bytes(done.size_bytes)} in {time.perf_counter() - started:.1f} s → {target}",
            )
            results.append(_entry(quant, target, done.size_bytes, done.seconds, "written"))
    return results


def _entry(quant: str, path: Path, size: int, seconds: float, status: str) -> dict[str, Any]:
    return {"quant": quant, "path": str(path), "size_bytes": size, "seconds": seconds, "status": status}


def _line(stream: Any, message: str) -> None:
    print(message, file=stream, flush=True)


def _remove_partials(target: Path) -> None:
    """Remove the temporary file a killed quantizer left beside `target` (atomic_path's naming)."""
    for leftover in target.parent.glob(f".{target.name}.*.part"):
        with contextlib.suppress(OSError):
            leftover.unlink()
