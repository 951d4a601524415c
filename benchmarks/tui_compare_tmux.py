#!/usr/bin/env python3
"""Run the TUI's compare screen as a person would, in tmux, and save what the screen shows.

Starts `python -m edgeapp` in a detached 160x50 tmux session, presses `k` (compare), ctrl+r (run
A then B: default:Q2_K vs default:Q8_0 unless the settings say otherwise), waits until both panes
say "finished", measures quality (ctrl+l) and saves capture-pane text at each stage.

    python benchmarks/tui_compare_tmux.py --out DIR [--tmux PATH] [--max-tokens 256] [--timeout 300]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--tmux", default="tmux")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--quality", action="store_true", help="also measure quality (ctrl+l) after the run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from edgeapp.settings import load_settings, save_settings

    save_settings(load_settings().__class__(**{**load_settings().to_json(), "max_tokens": args.max_tokens}))
    socket = str(Path(tempfile.mkdtemp()) / "tmux.sock")

    def tmux(*words: str) -> str:
        return subprocess.run(
            [args.tmux, "-S", socket, *words], capture_output=True, text=True, check=True
        ).stdout

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "edgeapp")

    def wait_for(test, what: str) -> str:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            text = screen()
            if test(text):
                return text
            time.sleep(0.5)
        raise SystemExit(f"gave up waiting for {what}:\n{screen()}")

    env = " ".join(
        shlex.quote(f"{k}={v}")
        for k, v in os.environ.items()
        if k.startswith(("EDGEAPP_", "HF_", "PYTHONPATH", "LLAMA_CPP", "LD_LIBRARY_PATH", "PATH"))
    )
    command = f"env {env} TERM=xterm-256color {shlex.quote(sys.executable)} -m edgeapp"
    tmux("new-session", "-d", "-s", "edgeapp", "-x", "160", "-y", "50", command)
    try:
        wait_for(lambda s: "Hardware" in s and "Compare" in s, "the first frame")
        time.sleep(2)
        (args.out / "tui_hardware.txt").write_text(screen())
        tmux("send-keys", "-t", "edgeapp", "k")
        wait_for(lambda s: "Run" in s, "the compare screen")
        time.sleep(1)
        tmux("send-keys", "-t", "edgeapp", "C-r")
        started = time.monotonic()
        text = wait_for(lambda s: s.count("finished") >= 2, "both panes to finish")
        (args.out / "tui_compare.txt").write_text(text)
        print(f"compare finished in {time.monotonic() - started:.1f} s")
        if args.quality:
            tmux("send-keys", "-t", "edgeapp", "C-l")
            wait_for(lambda s: "(vs " in s, "the quality figures")
            time.sleep(1)
            (args.out / "tui_compare_quality.txt").write_text(screen())
        print(screen())
    finally:
        subprocess.run([args.tmux, "-S", socket, "kill-server"], capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
