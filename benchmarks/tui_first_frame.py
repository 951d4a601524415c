"""Measure how long `edgeapp` takes from process start to its first full frame, in a real pty.

The first frame is the moment the hardware screen's panels are on the terminal (the texts
"Recommendation" and "llama.cpp" both written). Each run starts a fresh interpreter, so imports
count. Two figures per run: wall time, and the CPU time the process used until then (user + sys
from /proc), which a busy shared machine inflates far less than wall time. A bare Textual app
(header, one line, footer) is measured the same way as a floor.

The llama.cpp probe cache is warmed first unless --cold is given (then every run gets an empty
cache directory: the first start after installing).

    python benchmarks/tui_first_frame.py [--runs 7] [--cold]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

MARKERS = (b"Recommendation", b"llama.cpp")
TIMEOUT_S = 30.0
BARE_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static
class Bare(App):
    BINDINGS = [(k, "bell", k) for k in "hmdck"]
    def compose(self):
        yield Header()
        yield Static("Recommendation llama.cpp")
        yield Footer()
Bare().run()
"""


def _cpu_s(pid: int) -> float:
    """Return user + system CPU seconds used so far by process `pid` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_frame(command: list[str], env: dict[str, str], linger_s: float = 0.0) -> tuple[float, float]:
    """Return (wall s, CPU s) from start to both markers on a 120x40 pty; kills the app `linger_s` later."""
    master, slave = pty.openpty()
    # The size is set before the app starts, so its first layout is already 120x40.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True
    )
    os.close(slave)
    seen = b""
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            ready, _, _ = select.select([master], [], [], 0.02)
            if not ready:
                continue
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
            if all(marker in seen for marker in MARKERS):
                result = time.perf_counter() - started, _cpu_s(process.pid)
                _drain(master, linger_s)
                return result
        raise RuntimeError(f"no first frame within {TIMEOUT_S} s; output tail: {seen[-400:]!r}")
    finally:
        process.kill()
        process.wait()
        os.close(master)


def _drain(fd: int, seconds: float) -> None:
    # Keep reading so the app never blocks on a full pty while it finishes background work.
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def _summary(name: str, results: list[tuple[float, float]]) -> str:
    wall = [w for w, _ in results]
    cpu = [c for _, c in results]
    return (
        f"{name:<8} wall median {statistics.median(wall):.3f} s (min {min(wall):.3f}, max {max(wall):.3f})"
        f" · CPU median {statistics.median(cpu):.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="empty edgeapp cache for every run")
    args = parser.parse_args()
    executable = shutil.which("edgeapp", path=str(Path(sys.executable).parent)) or "edgeapp"
    base = tempfile.mkdtemp(prefix="edgeapp-first-frame-")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "EDGEAPP_CONFIG_DIR": f"{base}/config",
        "EDGEAPP_DATA_DIR": f"{base}/data",
        "EDGEAPP_CACHE_DIR": f"{base}/cache",
    }
    if not args.cold:
        first_frame([executable], env, linger_s=10)  # the app fills the llama.cpp probe cache in a worker
    edge, bare = [], []
    for run in range(args.runs):  # interleaved, so both see the same machine load
        if args.cold:
            env["EDGEAPP_CACHE_DIR"] = f"{base}/cache-{run}"
        edge.append(first_frame([executable], env))
        bare.append(first_frame([sys.executable, "-c", BARE_APP], env))
    shutil.rmtree(base, ignore_errors=True)
    print(
        f"first frame at 120x40, {'cold' if args.cold else 'warm'} llama.cpp cache, {args.runs} runs, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(_summary("edgeapp", edge))
    print(_summary("bare", bare))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
