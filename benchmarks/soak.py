"""Soak the app side: many generations and load/unload cycles in one process, then look for leaks.

One app process (this one) drives the engine through `EngineClient`, as the TUI does:

1. one engine, one model, N short chat replies (default 1,000; 8 tokens each, a new prompt each);
2. M load/unload cycles of the same model in that engine, each with one short reply (default 50);
3. M engine start/load/close cycles, since the TUI starts a fresh engine after a crash or a
   model switch.

Reported: this process's RSS at start, after warm-up (the first 20 replies: imports, caches and
allocator arenas settle there) and at the end, with the growth from warm-up to end (target ≤ 5%);
the engine's RSS after the first and last unload; engine processes left after closing; temporary
and log files left in edgeapp's directories; timings. Everything runs in a fresh temporary
EDGEAPP_* tree so that leftovers are ours alone.

    python benchmarks/soak.py [--generations 1000] [--cycles 50] [--max-tokens 8] [--threads N]
                              [--model PATH] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WARMUP_REPLIES = 20
TEMP_PATTERNS = (".*.tmp", ".*.part", ".*.sparse", "*.incomplete", "*.lock")


def _isolate() -> Path:
    """Point edgeapp at a fresh temporary tree (before edgeapp is imported); return its root."""
    root = Path(tempfile.mkdtemp(prefix="edgeapp-soak-"))
    for name in ("config", "data", "cache"):
        os.environ[f"EDGEAPP_{name.upper()}_DIR"] = str(root / name)
    return root


def _rss_bytes() -> int:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss


def _engine_children() -> list[str]:
    """Return the command lines of child processes other than multiprocessing's one helper."""
    import psutil

    return [
        " ".join(child.cmdline())
        for child in psutil.Process().children(recursive=True)
        if "multiprocessing.resource_tracker" not in " ".join(child.cmdline())
    ]


def _leftover_files(root: Path) -> dict[str, list[str]]:
    """Return temporary files and engine logs left anywhere under the edgeapp tree."""
    temps = sorted({str(p.relative_to(root)) for pattern in TEMP_PATTERNS for p in root.rglob(pattern)})
    logs = sorted(str(p.relative_to(root)) for p in root.rglob("engine-*.log"))
    return {"temp_files": temps, "engine_logs": logs}


def _reply(engine: Any, index: int, max_tokens: int) -> int:
    from edgeapp.engine.protocol import ChatMessage, Finished, Generate, SamplingSettings

    request = Generate(
        messages=(ChatMessage("user", f"Give me one word about the number {index}."),),
        max_tokens=max_tokens,
        sampling=SamplingSettings(seed=index),
    )
    finished = [event for event in engine.generate(request) if isinstance(event, Finished)]
    return finished[0].stats.gen_tokens


def soak_generations(model: str, count: int, max_tokens: int, threads: int | None) -> dict[str, Any]:
    """Run `count` replies in one engine; return RSS figures and timings."""
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import LoadModel

    tokens = 0
    started = time.perf_counter()
    with EngineClient() as engine:
        engine.load(LoadModel(path=model, n_ctx=512, threads=threads))
        for index in range(count):
            tokens += _reply(engine, index, max_tokens)
            if index + 1 == min(WARMUP_REPLIES, count):
                warm_rss = _rss_bytes()
                warm_t = time.perf_counter()
        engine_rss = engine.monitor.latest.rss_bytes if engine.monitor and engine.monitor.latest else None
    seconds = time.perf_counter() - started
    return {
        "replies": count,
        "tokens": tokens,
        "seconds": seconds,
        "replies_per_s": (count - WARMUP_REPLIES) / (time.perf_counter() - warm_t),
        "app_rss_after_warmup_bytes": warm_rss,
        "app_rss_end_bytes": _rss_bytes(),
        "engine_rss_end_bytes": engine_rss,
    }


def soak_load_cycles(model: str, cycles: int, max_tokens: int, threads: int | None) -> dict[str, Any]:
    """Load, answer, unload `cycles` times in one engine; return engine RSS after each unload."""
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import LoadModel

    engine_rss: list[int] = []
    started = time.perf_counter()
    with EngineClient() as engine:
        for index in range(cycles):
            engine.load(LoadModel(path=model, n_ctx=512, threads=threads))
            _reply(engine, index, max_tokens)
            engine.unload()
            time.sleep(0.06)  # one monitor sample after the unload
            if engine.monitor and engine.monitor.latest:
                engine_rss.append(engine.monitor.latest.rss_bytes)
    return {
        "cycles": cycles,
        "seconds": time.perf_counter() - started,
        "engine_rss_after_first_unload_bytes": engine_rss[0] if engine_rss else None,
        "engine_rss_after_last_unload_bytes": engine_rss[-1] if engine_rss else None,
    }


def soak_engine_restarts(model: str, cycles: int, threads: int | None) -> dict[str, Any]:
    """Start an engine, load, close, `cycles` times; return the timing."""
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import LoadModel

    started = time.perf_counter()
    for _ in range(cycles):
        with EngineClient() as engine:
            engine.load(LoadModel(path=model, n_ctx=512, threads=threads))
    return {"cycles": cycles, "seconds": time.perf_counter() - started}


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = _isolate()
    start_rss = _rss_bytes()
    from edgeapp.bundled import bundled_model_path

    model = args.model or str(bundled_model_path())
    report: dict[str, Any] = {
        "model": Path(model).name,
        "threads": args.threads,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
        "app_rss_start_bytes": start_rss,
    }
    report["generations"] = soak_generations(model, args.generations, args.max_tokens, args.threads)
    report["load_cycles"] = soak_load_cycles(model, args.cycles, args.max_tokens, args.threads)
    report["engine_restarts"] = soak_engine_restarts(model, args.cycles, args.threads)
    gens = report["generations"]
    report["app_rss_end_bytes"] = _rss_bytes()
    warm = gens["app_rss_after_warmup_bytes"]
    report["app_rss_growth_pct"] = 100.0 * (report["app_rss_end_bytes"] - warm) / warm
    time.sleep(0.5)  # closed engines are reaped by then
    report["engine_processes_left"] = _engine_children()
    report.update(_leftover_files(root))
    report["passed"] = (
        report["app_rss_growth_pct"] <= 5.0
        and not report["engine_processes_left"]
        and not report["temp_files"]
        and not report["engine_logs"]
    )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return report


def render(report: dict[str, Any]) -> str:
    """Return the report as the lines pasted into docs/benchmarks.md."""
    mib = 2**20
    g, c, r = report["generations"], report["load_cycles"], report["engine_restarts"]
    first, last = c["engine_rss_after_first_unload_bytes"], c["engine_rss_after_last_unload_bytes"]
    lines = [
        f"model {report['model']} · engine threads {report['threads'] or 'default'} · Python {report['python']} · {report['machine']}",
        f"generations: {g['replies']} replies, {g['tokens']} tokens in {g['seconds']:.1f} s "
        f"({g['replies_per_s']:.1f} replies/s after warm-up)",
        f"load/unload cycles: {c['cycles']} in {c['seconds']:.1f} s; engine RSS after unload "
        f"{first / mib:.1f} MiB first, {last / mib:.1f} MiB last",
        f"engine start/load/close cycles: {r['cycles']} in {r['seconds']:.1f} s",
        f"app RSS: start {report['app_rss_start_bytes'] / mib:.1f} MiB, after warm-up "
        f"{g['app_rss_after_warmup_bytes'] / mib:.1f} MiB, after the replies {g['app_rss_end_bytes'] / mib:.1f} MiB, "
        f"end {report['app_rss_end_bytes'] / mib:.1f} MiB → growth {report['app_rss_growth_pct']:+.2f}% (target ≤ 5%)",
        f"engine processes left: {len(report['engine_processes_left'])}"
        + (f" {report['engine_processes_left']}" if report["engine_processes_left"] else ""),
        f"temporary files left: {len(report['temp_files'])}"
        + (f" {report['temp_files']}" if report["temp_files"] else ""),
        f"engine logs left: {len(report['engine_logs'])}"
        + (f" {report['engine_logs']}" if report["engine_logs"] else ""),
        "PASS" if report["passed"] else "FAIL",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument(
        "--threads", type=int, default=None, help="engine threads (1 keeps a shared machine's noise down)"
    )
    parser.add_argument("--model", default=None, help="a .gguf path (default: the bundled model)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary edgeapp tree")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.generations < WARMUP_REPLIES + 1:
        parser.error(f"--generations must be more than {WARMUP_REPLIES}")
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
