#!/usr/bin/env python3
"""What one streamed update of a reply costs the UI thread, without an engine: CPU ms and frame gaps.

Runs the real app (`EdgeApp.run_test`, headless: every frame is composed and rendered, only the
terminal write is skipped) on the chat screen with no model, and feeds a fixed Markdown reply of
~40 blocks (paragraphs with bold spans, lists, a code block, headings) into it through the same
`EngineSession.Progress` messages the engine session posts, `--words` words per update at `--hz`
updates a second. For each interval between two updates it records the UI thread's CPU time
(message handling, Markdown, layout, compositing, the stats panel: everything the process's main
thread did), and the time of every rendered frame.

Reported: CPU ms per update (median, mean, p95, max, and the mean over the first and the last
quarter of the reply, as it grows), the UI thread's CPU ms per second of streaming, frames
rendered, and frame gaps (median, p95, max). `--shape paragraph` streams one long paragraph
instead (a raw completion: no Markdown block ever finishes); `--profile FILE` writes a cProfile.

    python benchmarks/tui_stream_cost.py [--words 8] [--hz 30] [--shape markdown|paragraph] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PARAGRAPH = (
    "The keeper climbed the tower at dusk and trimmed the wick, as **every keeper before him** had "
    "done, because a lamp that smokes throws half its light into the glass instead of onto the sea."
)
LIST = "\n".join(
    f"- item {i}: check the *oil*, the wick and the clockwork before the storm" for i in range(5)
)
CODE = "```python\ndef lamp_hours(oil_l: float, burn_l_per_h: float) -> float:\n    return oil_l / burn_l_per_h\n```"


def reply_text(blocks: int = 40) -> str:
    """Return a Markdown reply of about `blocks` blocks, shaped like a long model answer."""
    parts = ["## Keeping the light"]
    for index in range(blocks - 1):
        if index % 10 == 4:
            parts.append(LIST)
        elif index % 10 == 8:
            parts.append(CODE)
        elif index % 10 == 9:
            parts.append(f"### Part {index // 10 + 2}")
        else:
            parts.append(PARAGRAPH)
    return "\n\n".join(parts) + "\n"


def paragraph_text(words: int = 1300) -> str:
    """Return one paragraph of about `words` words (a raw completion: no blank line, no Markdown)."""
    sentence = PARAGRAPH.replace("**", "").split(" ")
    return " ".join(sentence[i % len(sentence)] for i in range(words))


def chunks(text: str, words: int) -> list[str]:
    """Return `text` cut into pieces of `words` words each (whitespace kept), as streamed deltas."""
    tokens = re.findall(r"\S+\s*", text)
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(words: int, hz: float, shape: str = "markdown", profile: str | None = None) -> dict:
    """Stream the reply into the chat screen; return the cost per update and the frame gaps."""
    from edgeapp.engine.monitor import ResourceSample
    from edgeapp.hardware import probe_hardware
    from edgeapp.settings import Settings
    from edgeapp.tui.app import EdgeApp
    from edgeapp.tui.engine_session import EngineSession
    from edgeapp.tui.live_reply import LiveFigures
    from edgeapp.tui.screens.chat import ChatScreen
    from edgeapp.tui.state import AppState
    from edgeapp.tui.widgets.chat.message_log import MessageLog

    class TimedApp(EdgeApp):
        frames: list[float] = []

        def _display(self, screen, update):  # type: ignore[no-untyped-def]
            self.frames.append(time.perf_counter())
            return super()._display(screen, update)

    ChatScreen.AUTOLOAD_MODEL = False
    app = TimedApp(AppState(probe_hardware(), Settings(), save=False), start_mode="chat")
    deltas = chunks(reply_text() if shape == "markdown" else paragraph_text(), words)
    costs: list[float] = []
    interval_s = 1 / hz
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        session = screen.session
        screen.query_one(MessageLog).add("user", "How do I keep a lighthouse running through the winter?")
        await pilot.pause()
        if hasattr(screen, "begin_reply"):
            screen.begin_reply()
        else:  # the screen before begin_reply existed
            screen._reply_view = screen.query_one(MessageLog).add("assistant", label="Assistant")
        await pilot.pause()
        app.frames.clear()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        tokens, started = 0, time.perf_counter()
        for index, delta in enumerate(deltas):
            cpu = time.thread_time()
            tokens += words
            elapsed = time.perf_counter() - started
            figures = LiveFigures(
                tokens=tokens,
                gen_tps=tokens / max(elapsed, 1e-3),
                rates=tuple(100.0 + (i * 7) % 40 for i in range(min(index // 8, 48))),
                ttft_s=0.05,
                elapsed_s=elapsed,
            )
            sample = ResourceSample(
                t=elapsed,
                rss_bytes=200_000_000 + index * 4096,
                vram_bytes=None,
                cpu_percent=190.0 + index % 10,
            )
            screen.post_message(EngineSession.Progress(session, delta, figures, sample))
            await asyncio.sleep(interval_s)
            costs.append(time.thread_time() - cpu)
        streamed_s = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        frames = list(app.frames)
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    quarter = max(1, len(costs) // 4)
    return {
        "shape": shape,
        "words_per_update": words,
        "hz": hz,
        "updates": len(costs),
        "cpu_ms_median": 1000 * statistics.median(costs),
        "cpu_ms_mean": 1000 * statistics.mean(costs),
        "cpu_ms_p95": 1000 * _pct(costs, 0.95),
        "cpu_ms_max": 1000 * max(costs),
        "cpu_ms_first_quarter": 1000 * statistics.mean(costs[:quarter]),
        "cpu_ms_last_quarter": 1000 * statistics.mean(costs[-quarter:]),
        "ui_cpu_ms_per_s": 1000 * sum(costs) / streamed_s,
        "frames": len(frames),
        "fps": len(frames) / streamed_s,
        "frame_gap_median_ms": 1000 * statistics.median(gaps) if gaps else None,
        "frame_gap_p95_ms": 1000 * _pct(gaps, 0.95) if gaps else None,
        "frame_gap_max_ms": 1000 * max(gaps) if gaps else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=8, help="words per update (default 8)")
    parser.add_argument("--hz", type=float, default=30.0, help="updates a second (default 30)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--shape",
        choices=("markdown", "paragraph"),
        default="markdown",
        help="a Markdown reply of ~40 blocks (default), or one long paragraph like a raw completion",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the streaming to FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeapp-stream-cost-") as root:
        for name in ("CONFIG", "DATA", "CACHE"):
            os.environ[f"EDGEAPP_{name}_DIR"] = str(Path(root) / name.lower())
        results = [
            asyncio.run(measure(args.words, args.hz, args.shape, args.profile)) for _ in range(args.repeat)
        ]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(
            f"{r['shape']}: {r['updates']} updates of {r['words_per_update']} words at {r['hz']:.0f} Hz: "
            f"UI CPU per update median {r['cpu_ms_median']:.1f} ms, mean {r['cpu_ms_mean']:.1f}, "
            f"p95 {r['cpu_ms_p95']:.1f}, max {r['cpu_ms_max']:.1f} (mean over the first quarter "
            f"{r['cpu_ms_first_quarter']:.1f}, the last {r['cpu_ms_last_quarter']:.1f}); "
            f"{r['ui_cpu_ms_per_s']:.0f} ms of UI CPU per second; {r['frames']} frames ({r['fps']:.1f}/s), "
            f"gaps median {r['frame_gap_median_ms']:.0f} ms, p95 {r['frame_gap_p95_ms']:.0f}, "
            f"max {r['frame_gap_max_ms']:.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
