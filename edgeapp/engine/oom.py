"""Telling an out-of-memory kill from any other SIGKILL of the engine process.

The kernel's OOM killer and `kill -9` look the same to a parent: exit signal 9. The kernel says
which it was in two places a normal user may read: the oom_kill counter of the memory cgroup
(cgroup v1 `memory.oom_control`, v2 `memory.events`), and the kernel log (`/dev/kmsg`, readable
unless dmesg is restricted), which names the killed pid. Where neither is readable we say nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OomBaseline:
    """The oom_kill counters of the engine's memory cgroups when it started."""

    files: tuple[Path, ...]
    count: int


def _memory_cgroup_event_files(pid: int) -> tuple[Path, ...]:
    """Return the files counting OOM kills in `pid`'s memory cgroups (v1 oom_control, v2 events)."""
    try:
        memberships = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ()
    mount_points: dict[str, str] = {}
    for line in mounts:
        left, _, right = line.partition(" - ")
        fstype, _source, options = (right.split() + ["", "", ""])[:3]
        if fstype == "cgroup2":
            mount_points.setdefault("", left.split()[4])
        elif fstype == "cgroup" and "memory" in options.split(","):
            mount_points.setdefault("memory", left.split()[4])
    found = []
    for line in memberships:
        _, controllers, group = line.split(":", 2)
        key = "" if controllers == "" else ("memory" if "memory" in controllers.split(",") else None)
        if key is None or key not in mount_points:
            continue
        name = "memory.events" if key == "" else "memory.oom_control"
        candidate = Path(mount_points[key]) / group.lstrip("/") / name
        if candidate.is_file():
            found.append(candidate)
    return tuple(found)


def _oom_kill_count(files: tuple[Path, ...]) -> int | None:
    total, readable = 0, False
    for path in files:
        with contextlib.suppress(OSError, ValueError):
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    total += int(value)
                    readable = True
    return total if readable else None


def oom_baseline(pid: int) -> OomBaseline:
    """Return the OOM-kill counters of `pid`'s memory cgroups now (empty where unreadable)."""
    files = _memory_cgroup_event_files(pid)
    return OomBaseline(files, _oom_kill_count(files) or 0)


def _in_root_pid_namespace() -> bool:
    """Return True if pids here are the kernel's own (not a container's), as the kernel log uses."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return len(line.split()) == 2
    except OSError:
        pass
    return False


def _kernel_log_oom_kill(pid: int, since_monotonic_s: float) -> bool | None:
    """Return True if the kernel log says it OOM-killed `pid` since then; None if unreadable."""
    if not _in_root_pid_namespace():
        return None
    pattern = re.compile(rf"(Killed process {pid} |oom-kill:.*,pid={pid},)")
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        while True:
            try:
                record = os.read(fd, 8192).decode("utf-8", "replace")
            except BlockingIOError:
                return False
            except OSError:  # EPIPE: records overwritten while reading; go on with the next
                continue
            prefix, _, message = record.partition(";")
            fields = prefix.split(",")
            # Records carry microseconds since boot; older ones may name a recycled pid. (The
            # kernel's clock and CLOCK_MONOTONIC may drift apart a little: a minute of slack.)
            recent = (
                len(fields) > 2 and fields[2].isdigit() and int(fields[2]) / 1e6 >= since_monotonic_s - 60
            )
            if recent and pattern.search(message):
                return True
    finally:
        os.close(fd)


def sigkill_cause(pid: int, baseline: OomBaseline, since_monotonic_s: float) -> str | None:
    """Return why a SIGKILLed engine died, as far as the kernel tells us; None if it does not."""
    in_kernel_log = _kernel_log_oom_kill(pid, since_monotonic_s)
    if in_kernel_log:
        return "out of memory: the kernel's OOM killer stopped it; try a smaller quant or context"
    count = _oom_kill_count(baseline.files)
    if count is not None and count > baseline.count:
        return (
            "out of memory: the kernel's OOM killer ran in its memory cgroup; try a smaller quant or context"
        )
    if in_kernel_log is False:
        return "sent by another process, not by the kernel's OOM killer"
    return None


def prefer_as_oom_victim(pid: int, score_adj: int = 500) -> None:
    """Make the kernel kill the engine `pid` before the app when memory runs out.

    The engine holds the model, so it is the one to go; the app then reports it and keeps its
    transcript. Raising a score needs no privilege; where /proc is not writable nothing changes.
    """
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/oom_score_adj").write_text(str(score_adj))
