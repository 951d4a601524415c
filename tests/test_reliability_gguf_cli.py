"""Damaged GGUF files through the CLI: `edgeapp estimate`, `estimate --fast`, `pick` and `chat`.

Every variant that must be refused ends with exit code 1 and one `edgeapp: ` line on stderr that
comes from the validator, before llama.cpp sees the file; every variant that may load (damage in
the text of a token, a key name, a harmless scalar) ends with exit code 0 or 1, never a traceback,
never a hang. Where such a file reaches llama.cpp, it does so in the engine process.

178 variants × 4 commands would be 712 interpreters; instead two worker processes (one per core)
each loop over their share, calling `edgeapp.cli.main.main(argv)` with stdout and stderr captured
and a per-run alarm, and write one JSON line per run. A handful of variants also go through the
real `python -m edgeapp` entry point.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from tests.gguf_damage import DamagedVariant, build_variants

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
CHAT_ARGS = ("--prompt", "Hi", "--max-tokens", "2", "--ctx", "128")
COMMANDS: dict[str, tuple[str, ...]] = {
    "estimate": ("estimate", "{path}", "--ctx", "128"),  # with the llama.cpp dry run
    "estimate --fast": ("estimate", "{path}", "--ctx", "128", "--fast"),
    "pick": ("pick", "{path}", "--ctx", "128"),
    "chat": ("chat", "{path}", *CHAT_ARGS),
}
# Bounds, not timings: a refusal takes milliseconds, a load of a 98 MB model a few seconds. They
# only turn a hang into a failure.
HANG_GUARD_S = {"estimate": 120, "estimate --fast": 30, "pick": 30, "chat": 180}
WORKER_GUARD_S = 1500


class Hang(Exception):
    pass


def _raise_hang(signum: int, frame: FrameType | None) -> None:
    raise Hang()


def run_one(argv: list[str], limit_s: float) -> dict[str, Any]:
    """Return the outcome of `edgeapp argv` run in this process: rc, stdout, stderr, crash, hang."""
    from edgeapp.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    outcome: dict[str, Any] = {"rc": None, "crash": None, "hung": False}
    previous = signal.signal(signal.SIGALRM, _raise_hang)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            outcome["rc"] = main(argv)
    except Hang:
        outcome["hung"] = True
    except SystemExit as exit_:  # argparse; not expected here, but not a crash either
        outcome["rc"] = exit_.code
    except BaseException:  # noqa: BLE001 - anything else is the bug under test
        outcome["crash"] = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    outcome.update(stdout=out.getvalue(), stderr=err.getvalue(), seconds=time.monotonic() - started)
    return outcome


def worker(jobs_path: str, results_path: str) -> None:
    """Run every job in `jobs_path` (JSON list) and append one JSON line per result."""
    import psutil

    jobs = json.loads(Path(jobs_path).read_text())
    with open(results_path, "a", encoding="utf-8") as results:
        for job in jobs:
            outcome = run_one(job["argv"], job["limit_s"])
            results.write(json.dumps({**job, **outcome}) + "\n")
            results.flush()
        # Engines are closed at the end of every command; none may outlive it. (multiprocessing's
        # resource tracker is one helper per parent process, started with the first engine.)
        leftover = [
            " ".join(child.cmdline())
            for child in psutil.Process().children(recursive=True)
            if "multiprocessing.resource_tracker" not in " ".join(child.cmdline())
        ]
        results.write(json.dumps({"leftover_children": leftover}) + "\n")


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, bundled_path: Path) -> Iterator[list[DamagedVariant]]:
    out_dir = tmp_path_factory.mktemp("damaged-cli")
    yield build_variants(bundled_path, out_dir)
    shutil.rmtree(out_dir)  # sparse files: a few MB of headers each, holes for the rest


def _jobs(variants: list[DamagedVariant], commands: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "variant": v.name,
            "must_reject": v.must_reject,
            "command": command,
            "path": str(v.path),
            "argv": [arg.format(path=v.path) for arg in COMMANDS[command]],
            "limit_s": HANG_GUARD_S[command],
        }
        for command in commands
        for v in variants
    ]


@pytest.fixture(scope="module")
def outcomes(
    variants: list[DamagedVariant], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run every variant through every command in two parallel workers; return results, leftovers."""
    work = tmp_path_factory.mktemp("cli-workers")
    # Module-scoped: the per-test directories of conftest are not set up yet, so give the workers
    # their own (the derived-quant cache is not needed: every REF here is a path).
    env = {**os.environ, **{f"EDGEAPP_{n.upper()}_DIR": str(work / n) for n in ("config", "data", "cache")}}
    env.pop("EDGEAPP_TRANSCRIPTS_DIR", None)
    env.pop("EDGEAPP_MEASUREMENTS_DIR", None)
    shares = [["chat"], ["estimate", "estimate --fast", "pick"]]  # about equal time on one core each
    processes = []
    for index, commands in enumerate(shares):
        jobs, results = work / f"jobs-{index}.json", work / f"results-{index}.jsonl"
        jobs.write_text(json.dumps(_jobs(variants, commands)))
        code = f"from tests.test_reliability_gguf_cli import worker; worker({str(jobs)!r}, {str(results)!r})"
        log = open(work / f"worker-{index}.log", "w")  # noqa: SIM115 - closed below
        processes.append(
            (
                subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=log, stderr=log),
                results,
                log,
            )
        )
    records: list[dict[str, Any]] = []
    leftovers: list[str] = []
    for process, results, log in processes:
        try:
            process.wait(timeout=WORKER_GUARD_S)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        assert process.returncode == 0, Path(log.name).read_text()[-3000:]
        for line in results.read_text().splitlines():
            record = json.loads(line)
            if "leftover_children" in record:
                leftovers += record["leftover_children"]
            else:
                records.append(record)
    expected = len(variants) * len(COMMANDS)
    assert len(records) == expected, f"{len(records)} of {expected} runs reported"
    _print_counts(records)
    return records, leftovers


def _stderr_lines(record: dict[str, Any]) -> list[str]:
    return [line for line in record["stderr"].splitlines() if line.strip()]


def _problem(record: dict[str, Any]) -> str | None:
    """Return what is wrong with one run, or None; the rules of the issue, in order."""
    if record["crash"]:
        return f"crashed:\n{record['crash']}"
    if record["hung"]:
        return f"no answer within {record['limit_s']} s"
    if "Traceback" in record["stderr"] or "Traceback" in record["stdout"]:
        return f"printed a traceback:\n{record['stderr']}"
    lines = _stderr_lines(record)
    if record["must_reject"]:
        if record["rc"] != 1:
            return f"exit code {record['rc']}, expected 1"
        if len(lines) != 1 or not lines[0].startswith("edgeapp: "):
            return f"expected one 'edgeapp: ' line on stderr, got {lines}"
        if "not a usable GGUF file" not in lines[0] and "is a directory" not in lines[0]:
            return f"refused by something other than the validator: {lines[0]}"
        return None
    if record["rc"] not in (0, 1):
        return f"exit code {record['rc']}"
    if record["rc"] == 1:
        errors = [line for line in lines if line.startswith("edgeapp: ") and "warning" not in line]
        said_nothing_fits = record["command"] == "pick" and "nothing fits" in record["stdout"]
        if len(errors) != 1 and not said_nothing_fits:
            return f"exit code 1 without one clear 'edgeapp: ' line: {lines}"
    return None


def _print_counts(records: list[dict[str, Any]]) -> None:
    """Print the numbers the issue asks for (visible with `pytest -s`)."""
    by_command: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in records:
        counts = by_command[r["command"]]
        counts["tried"] += 1
        counts["must_reject"] += r["must_reject"]
        counts["clear_error"] += r["rc"] == 1 and len(_stderr_lines(r)) == 1 and not r["crash"]
        counts["loaded_or_ran"] += r["rc"] == 0
        counts["crash"] += bool(r["crash"]) or "Traceback" in r["stderr"]
        counts["hang"] += r["hung"]
    for command, counts in by_command.items():
        print(f"\n{command}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), end="")
    print()


def test_there_are_over_100_must_reject_variants(variants: list[DamagedVariant]) -> None:
    assert sum(v.must_reject for v in variants) >= 100
    assert len(variants) >= 150


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_must_reject_variant_exits_1_with_one_line_from_the_validator(
    outcomes: tuple[list[dict[str, Any]], list[str]], command: str
) -> None:
    records = [r for r in outcomes[0] if r["command"] == command and r["must_reject"]]
    assert len(records) >= 100
    problems = [f"{r['variant']}: {p}" for r in records if (p := _problem(r))]
    assert problems == [], "\n".join(problems)
    for record in records:  # the message names the file the user gave
        if "directory" not in record["stderr"]:
            assert Path(record["path"]).name in record["stderr"], record["stderr"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_variants_that_may_load_never_crash_or_hang_the_cli(
    outcomes: tuple[list[dict[str, Any]], list[str]], command: str
) -> None:
    records = [r for r in outcomes[0] if r["command"] == command and not r["must_reject"]]
    assert records
    problems = [f"{r['variant']}: {p}" for r in records if (p := _problem(r))]
    assert problems == [], "\n".join(problems)


def test_some_may_load_variants_really_reach_llama_cpp(
    outcomes: tuple[list[dict[str, Any]], list[str]],
) -> None:
    # Guards the test itself: if every variant were refused early, the engine path went untested.
    chats = [r for r in outcomes[0] if r["command"] == "chat" and not r["must_reject"]]
    answered = [r for r in chats if r["rc"] == 0 and "tok/s" in r["stderr"]]
    refused_by_llama = [r for r in chats if "llama.cpp could not load the model" in r["stderr"]]
    assert len(answered) >= 5
    # llama.cpp's own reason is passed on, not only "see the engine log"
    for record in refused_by_llama:
        assert "error loading model" in record["stderr"], record["stderr"]


def test_no_engine_process_outlives_a_command(outcomes: tuple[list[dict[str, Any]], list[str]]) -> None:
    assert outcomes[1] == []


SAMPLES = (
    "truncated/mid-data",
    "huge-count/kv-2^64-1",
    "huge-length/chat-template-2^40",
    "wrong-alignment/3",
    "tensor/offset-past-end",
    "not-gguf/html-error-page",
    "not-gguf/zero-bytes",
)


@pytest.mark.parametrize("command", ["estimate", "pick", "chat"])
def test_the_real_entry_point_refuses_a_sample_plainly(variants: list[DamagedVariant], command: str) -> None:
    chosen = [v for v in variants if v.name in SAMPLES]
    assert len(chosen) == len(SAMPLES) and all(v.must_reject for v in chosen)
    for variant in chosen:
        argv = [arg.format(path=variant.path) for arg in COMMANDS[command]]
        result = subprocess.run(
            [sys.executable, "-m", "edgeapp", *argv],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S[command],
            env=os.environ.copy(),
        )
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 1, (variant.name, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("edgeapp: "), (variant.name, result.stderr)
        assert "not a usable GGUF file" in lines[0] and "Traceback" not in result.stderr
