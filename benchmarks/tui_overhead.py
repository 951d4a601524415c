#!/usr/bin/env python3
"""Does the TUI slow generation down? Tokens/s headless vs streamed through the chat screen.

One process runs the real app (`EdgeApp.run_test`, headless: every frame is composed and rendered,
only the terminal write is skipped) on the chat screen with the bundled model, and a second engine
loaded with the same file and settings for the headless runs (`edgeapp.runs.stream_reply`, no UI).
Repetitions alternate headless and TUI (ABBA order) so that drift in machine load hits both.

Reported per mode: generation tokens/s (median and each rep) headless and through the TUI, the
ratio TUI/headless, the parent process's CPU time per second of generation, and the UI's cadence
while streaming: how many frames were rendered, the median and the largest interval between two
frames, and the largest interval between two stream updates (the Markdown + stats refresh).

Modes: `chat` (the chat template, the default sampler, a reply of up to --max-tokens) and `raw`
(a raw prompt, greedy, ignore_eos: always --max-tokens tokens, at the engine's top speed).

`--hz N` fixes the redraw rate at N a second instead of letting the RefreshPacer choose it (to
see what a given rate costs); `--threads N` sets the engine threads (default: the physical cores).

    python benchmarks/tui_overhead.py [--reps 5] [--max-tokens 256] [--mode chat|raw|both] [--hz N]
                                      [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "Write a detailed guide to keeping a lighthouse running through a long winter."
RAW_PROMPT = "The history of lighthouses begins"


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _request(mode: str, max_tokens: int):  # type: ignore[no-untyped-def]
    from edgeapp.engine.protocol import ChatMessage, Generate, SamplingSettings
    from edgeapp.settings import Settings

    if mode == "raw":
        greedy = SamplingSettings(temperature=0.0, repeat_penalty=1.0)
        return Generate(prompt=RAW_PROMPT, sampling=greedy, max_tokens=max_tokens, ignore_eos=True)
    settings = Settings()
    messages = (ChatMessage("system", settings.system_prompt), ChatMessage("user", PROMPT))
    return Generate(messages=messages, sampling=settings.sampling(), max_tokens=max_tokens)


def _intervals(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def _tui_rep(pilot, app, request) -> dict:  # type: ignore[no-untyped-def]
    screen = app.screen
    screen.action_new_chat()
    await pilot.pause()
    app.frames.clear()
    app.updates.clear()
    app.finished.clear()
    cpu, started = _cpu_s(), time.perf_counter()
    screen.stream_request(request)
    while not app.finished:
        # asyncio.sleep, not pilot.pause: pause forces a screen update each call, which would add
        # frames the app itself never asks for.
        await asyncio.sleep(0.02)
    wall_s, cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    stats = app.finished[0]
    frame_gaps, update_gaps = _intervals(app.frames), _intervals(app.updates)
    return {
        "gen_tps": stats.gen_tps,
        "tokens": stats.gen_tokens,
        "parent_cpu_per_s": cpu_s / wall_s,
        "frames": len(app.frames),
        "frame_median_ms": 1000 * statistics.median(frame_gaps) if frame_gaps else None,
        "frame_max_ms": 1000 * max(frame_gaps) if frame_gaps else None,
        "frame_p95_ms": 1000 * _p95(frame_gaps) if frame_gaps else None,
        "update_max_ms": 1000 * max(update_gaps) if update_gaps else None,
        "fps": len(app.frames) / wall_s,
        "pacer_interval_ms": 1000 * screen.session.pacer.interval_s,
        "ui_cpu_per_redraw_ms": 1000 * (getattr(screen.session.pacer, "redraw_cpu_s", None) or 0.0),
    }


def _headless_rep(engine, request) -> dict:  # type: ignore[no-untyped-def]
    from edgeapp.runs import stream_reply

    cpu, started = _cpu_s(), time.perf_counter()
    stats, _ = stream_reply(engine, request)
    wall_s = time.perf_counter() - started
    return {
        "gen_tps": stats.gen_tps,
        "tokens": stats.gen_tokens,
        "parent_cpu_per_s": (_cpu_s() - cpu) / wall_s,
    }


async def measure(
    mode: str, reps: int, max_tokens: int, hz: float | None = None, threads: int | None = None
) -> dict:
    """Return headless and TUI figures for `mode` ("chat" or "raw"), redrawing `hz` times a second
    if given (else at the pace the RefreshPacer picks)."""
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import LoadModel
    from edgeapp.hardware import probe_hardware
    from edgeapp.settings import Settings
    from edgeapp.tui.app import EdgeApp
    from edgeapp.tui.engine_session import EngineSession
    from edgeapp.tui.refresh_pacer import RefreshPacer
    from edgeapp.tui.state import AppState

    class TimedApp(EdgeApp):
        """The real app, noting when frames are rendered and stream updates and replies arrive."""

        frames: list[float] = []
        updates: list[float] = []
        finished: list = []

        def _display(self, screen, update):  # type: ignore[no-untyped-def]
            self.frames.append(time.perf_counter())
            return super()._display(screen, update)

        def on_engine_session_progress(self, message: EngineSession.Progress) -> None:
            self.updates.append(time.perf_counter())

        def on_engine_session_reply_finished(self, message: EngineSession.ReplyFinished) -> None:
            self.finished.append(message.stats)

    settings = Settings(max_tokens=max_tokens, threads=threads)
    app = TimedApp(AppState(probe_hardware(), settings, save=False), start_mode="chat")
    request = _request(mode, max_tokens)
    headless, tui = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        while screen.session.loaded is None:
            await asyncio.sleep(0.1)
        if hz:
            screen.session.pacer = RefreshPacer(min_interval_s=1 / hz, max_interval_s=1 / hz)
        loaded, run = screen.session.loaded, screen.session.run_settings
        with EngineClient() as engine:
            engine.load(
                LoadModel(path=loaded.path, n_ctx=run.n_ctx, gpu_layers=run.gpu_layers, threads=run.threads)
            )
            await asyncio.to_thread(_headless_rep, engine, request)  # warm-up, both sides
            await _tui_rep(pilot, app, request)
            for rep in range(reps):
                order = ("headless", "tui") if rep % 2 == 0 else ("tui", "headless")
                for side in order:
                    if side == "headless":
                        headless.append(await asyncio.to_thread(_headless_rep, engine, request))
                    else:
                        tui.append(await _tui_rep(pilot, app, request))
    median_headless = statistics.median(r["gen_tps"] for r in headless)
    median_tui = statistics.median(r["gen_tps"] for r in tui)
    return {
        "mode": mode,
        "hz": hz,
        "max_tokens": max_tokens,
        "reps": reps,
        "threads": loaded.threads,
        "headless_gen_tps": median_headless,
        "tui_gen_tps": median_tui,
        "ratio_tui_over_headless": median_tui / median_headless,
        "frame_max_ms": max(r["frame_max_ms"] or 0 for r in tui),
        "frame_median_ms": statistics.median(r["frame_median_ms"] or 0 for r in tui),
        "frame_p95_ms": statistics.median(r["frame_p95_ms"] or 0 for r in tui),
        "ui_cpu_per_redraw_ms": statistics.median(r["ui_cpu_per_redraw_ms"] for r in tui),
        "update_max_ms": max(r["update_max_ms"] or 0 for r in tui),
        "fps": statistics.median(r["fps"] for r in tui),
        "pacer_interval_ms": statistics.median(r["pacer_interval_ms"] for r in tui),
        "parent_cpu_per_s_headless": statistics.median(r["parent_cpu_per_s"] for r in headless),
        "parent_cpu_per_s_tui": statistics.median(r["parent_cpu_per_s"] for r in tui),
        "headless": headless,
        "tui": tui,
    }


def _print(result: dict) -> None:
    redraws = f"{result['hz']:g}/s" if result["hz"] else "paced"
    print(
        f"\n== {result['mode']}: up to {result['max_tokens']} tokens, {result['reps']} reps each, "
        f"{result['threads']} threads, redraws {redraws} =="
    )
    print("headless tok/s:", " ".join(f"{r['gen_tps']:.1f}" for r in result["headless"]))
    print("TUI tok/s:     ", " ".join(f"{r['gen_tps']:.1f}" for r in result["tui"]))
    print(
        f"median headless {result['headless_gen_tps']:.1f} tok/s, TUI {result['tui_gen_tps']:.1f} tok/s, "
        f"ratio TUI/headless {result['ratio_tui_over_headless']:.3f}"
    )
    print(
        f"frames while streaming: {result['fps']:.1f}/s, interval median {result['frame_median_ms']:.1f} ms, "
        f"p95 {result['frame_p95_ms']:.1f} ms, max {result['frame_max_ms']:.1f} ms; max interval between "
        f"stream updates {result['update_max_ms']:.1f} ms; UI CPU per redraw "
        f"{result['ui_cpu_per_redraw_ms']:.1f} ms (pacer interval at the end of a reply: "
        f"{result['pacer_interval_ms']:.0f} ms)"
    )
    print(
        f"parent CPU per second of generation: headless {result['parent_cpu_per_s_headless']:.3f} s, "
        f"TUI {result['parent_cpu_per_s_tui']:.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--mode", choices=("chat", "raw", "both"), default="both")
    parser.add_argument("--hz", type=float, help="redraw this many times a second (default: paced)")
    parser.add_argument("--threads", type=int, help="engine threads (default: the physical cores)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeapp-tui-overhead-") as root:
        for name in ("CONFIG", "DATA", "CACHE"):
            os.environ[f"EDGEAPP_{name}_DIR"] = str(Path(root) / name.lower())
        modes = ("chat", "raw") if args.mode == "both" else (args.mode,)
        results = [
            asyncio.run(measure(mode, args.reps, args.max_tokens, args.hz, args.threads)) for mode in modes
        ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
