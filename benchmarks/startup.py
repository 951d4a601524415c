#!/usr/bin/env python3
"""Time what a user waits for before anything happens: `edgeapp --help` and loading the bundled model.

Each figure is the median of N runs (after one warm-up, so the page cache is warm as it is in use).
The TUI's first frame is measured by benchmarks/tui_first_frame.py.

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def time_help(runs: int) -> list[float]:
    """Return wall times of `python -m edgeapp --help` (a fresh interpreter each time)."""
    command = [sys.executable, "-m", "edgeapp", "--help"]
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def time_interpreter(runs: int) -> list[float]:
    """Return wall times of a bare `python -c pass`, the floor under any Python command."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def time_bundled_load(runs: int) -> list[float]:
    """Return llama.cpp load times (model + context, n_ctx 2048) of the bundled model."""
    from edgeapp.bundled import bundled_model_path
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import LoadModel

    path = str(bundled_model_path())
    times = []
    with EngineClient() as engine:
        engine.load(LoadModel(path=path, n_ctx=2048))  # warm-up: file in the page cache
        for _ in range(runs):
            engine.unload()
            times.append(engine.load(LoadModel(path=path, n_ctx=2048)).load_s)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    floor = statistics.median(time_interpreter(args.runs))
    help_s = statistics.median(time_help(args.runs))
    load_s = statistics.median(time_bundled_load(args.runs))
    print(f"python -c pass (floor)      {floor * 1000:7.1f} ms")
    print(f"edgeapp --help              {help_s * 1000:7.1f} ms   target < 150 ms")
    print(f"bundled model load (2048)   {load_s * 1000:7.1f} ms   target < 500 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
