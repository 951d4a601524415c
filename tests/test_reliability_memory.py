"""Memory pressure, for real: an engine that runs out of address space, an engine the kernel's OOM
killer stops inside a memory cgroup, a SIGKILL that is not an OOM kill, and the GPU-layer
fallback retrying a load that failed for lack of memory.

Nothing here is simulated: the limits are the kernel's (RLIMIT_AS set on the engine process with
prlimit, a child memory cgroup with a limit), the failures are llama.cpp's and the kernel's.
The cgroup test needs a memory cgroup the tests may create (cgroup v1 as root, or a delegated v2
subtree); where there is none it is skipped and says so. The RAM refusal with numbers before a
load (`--force` to override) is tested in test_cli.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from edgeapp.engine.client import EngineClient
from edgeapp.engine.protocol import Finished, Generate, LoadModel, SamplingSettings
from edgeapp.errors import EngineCrashed, EngineError
from edgeapp.runs import load_with_fallback

pytestmark = pytest.mark.slow
GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)
HUGE_CTX = 65_536  # KV cache of the bundled model at this size: 30 layers × 2 × 65,536 × 192 × 2 B = 1.5 GB
CGROUP_LIMIT_BYTES = 400 * 2**20  # the app, an engine and the 98 MB model at a small context fit


def _limit_address_space(pid: int, extra_bytes: int) -> None:
    """Let process `pid` map only `extra_bytes` more than it has now (RLIMIT_AS, like `prlimit --as`)."""
    limit = psutil.Process(pid).memory_info().vms + extra_bytes
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


def _answers(engine: EngineClient) -> int:
    events = list(engine.generate(Generate(prompt="Hello", max_tokens=3, sampling=GREEDY)))
    assert isinstance(events[-1], Finished)
    return events[-1].stats.gen_tokens


def test_a_load_without_enough_memory_fails_clearly_and_the_engine_survives(bundled_path: Path) -> None:
    with EngineClient() as engine:
        _limit_address_space(engine.pid, 300 * 2**20)  # type: ignore[arg-type]
        with pytest.raises(EngineError) as caught:
            engine.load(LoadModel(path=str(bundled_path), n_ctx=HUGE_CTX))
        message = str(caught.value)
        assert not isinstance(caught.value, EngineCrashed)
        assert "out of memory?" in message and f"{HUGE_CTX} tokens" in message
        assert "failed to allocate buffer for kv cache" in message  # llama.cpp's own reason, passed on
        assert "\n" not in message
        # The same engine loads the model at a size that fits and answers.
        assert engine.load(LoadModel(path=str(bundled_path), n_ctx=256)).n_ctx == 256
        assert _answers(engine) > 0


def test_the_gpu_layer_fallback_retries_a_failed_load_with_fewer_layers_and_says_so(
    bundled_path: Path,
) -> None:
    # This llama.cpp build has no GPU backend, so no load here can fail for lack of VRAM and
    # succeed with fewer layers; the load fails for lack of (address-space) memory instead, for
    # real, at every layer count. What is exercised: the halving, the notices, the final error,
    # and an engine that still works afterwards. Success after a retry needs a GPU machine.
    notices: list[str] = []
    with EngineClient() as engine:
        _limit_address_space(engine.pid, 300 * 2**20)  # type: ignore[arg-type]
        request = LoadModel(path=str(bundled_path), n_ctx=HUGE_CTX, gpu_layers=8)
        with pytest.raises(EngineError, match="out of memory"):
            load_with_fallback(engine, request, notices.append)
        assert [n.split(" GPU layers failed")[0] for n in notices] == [
            "loading with 8",
            "loading with 4",
            "loading with 2",
            "loading with 1",
        ]
        assert [n.rsplit("retrying with ", 1)[1] for n in notices] == ["4", "2", "1", "0"]
        assert all("failed to allocate buffer for kv cache" in n for n in notices)
        assert engine.alive
        loaded = load_with_fallback(engine, LoadModel(path=str(bundled_path), n_ctx=256, gpu_layers=8))
        assert loaded.n_ctx == 256 and _answers(engine) > 0


def test_the_engine_is_the_one_the_oom_killer_picks_first(bundled_path: Path) -> None:
    with EngineClient() as engine:
        engine_adj = int(Path(f"/proc/{engine.pid}/oom_score_adj").read_text())
        app_adj = int(Path("/proc/self/oom_score_adj").read_text())
    assert engine_adj > app_adj


def _kernel_log_readable() -> bool:
    try:
        os.close(os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        return False
    return True


def test_a_sigkill_from_another_process_is_not_called_out_of_memory(bundled_path: Path) -> None:
    if not _kernel_log_readable():
        pytest.skip("the kernel log is not readable here, so an OOM kill cannot be told from kill -9")
    engine = EngineClient()
    engine.start()
    try:
        engine.load(LoadModel(path=str(bundled_path), n_ctx=256))
        os.kill(engine.pid, signal.SIGKILL)  # type: ignore[arg-type]
        with pytest.raises(EngineCrashed) as caught:
            _answers(engine)
    finally:
        engine.close()
    assert caught.value.exitcode == -signal.SIGKILL
    assert "SIGKILL, sent by another process, not by the kernel's OOM killer" in str(caught.value)


# -- the kernel's OOM killer, inside a child memory cgroup --------------------------------------


def _own_memory_cgroup() -> tuple[Path, str] | None:
    """Return (directory, version) of this process's memory cgroup where it can be written."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, group = line.split(":", 2)
        if "memory" in controllers.split(","):
            path = Path("/sys/fs/cgroup/memory") / group.lstrip("/")
            if path.is_dir() and os.access(path, os.W_OK):
                return path, "v1"
        if controllers == "":
            path = Path("/sys/fs/cgroup") / group.lstrip("/")
            controllers_file = path / "cgroup.controllers"
            has_memory = controllers_file.is_file() and "memory" in controllers_file.read_text().split()
            if has_memory and os.access(path, os.W_OK):
                return path, "v2"
    return None


@pytest.fixture
def memory_cgroup() -> Iterator[Path]:
    """Yield a new child memory cgroup of this process's own, limited to CGROUP_LIMIT_BYTES."""
    parent = _own_memory_cgroup()
    if parent is None:
        pytest.skip("no writable memory cgroup here (needs cgroup v1 as root or a delegated v2 subtree)")
    base, version = parent
    group = base / f"edgeapp-oom-test-{os.getpid()}"
    try:
        group.mkdir()
        if version == "v1":
            (group / "memory.limit_in_bytes").write_text(str(CGROUP_LIMIT_BYTES))
            with contextlib.suppress(OSError):  # no swap either, where swap accounting exists
                (group / "memory.memsw.limit_in_bytes").write_text(str(CGROUP_LIMIT_BYTES))
        else:
            (group / "memory.max").write_text(str(CGROUP_LIMIT_BYTES))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
    except OSError as error:
        with contextlib.suppress(OSError):
            group.rmdir()
        pytest.skip(f"cannot set up a memory cgroup here: {error}")
    try:
        yield group
    finally:
        pids: list[int] = []
        for _ in range(50):  # only our own processes can be in it; end them, then remove it
            if not group.exists():
                break
            with contextlib.suppress(OSError):
                pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                group.rmdir()
                break
            time.sleep(0.1)


def _run_in_cgroup(group: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` as a process that joins `group` before it starts (its children inherit it)."""

    def join() -> None:
        (group / "cgroup.procs").write_text(str(os.getpid()))

    return subprocess.run(
        argv, preexec_fn=join, capture_output=True, text=True, timeout=300, env=os.environ.copy()
    )


APP = textwrap.dedent(
    """
    import json, sys
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.oom import _oom_kill_count
    from edgeapp.engine.protocol import Generate, LoadModel
    from edgeapp.errors import EngineCrashed

    path, n_ctx = sys.argv[1], int(sys.argv[2])
    report = {}
    engine = EngineClient()
    engine.start()
    baseline = engine._oom_baseline
    try:
        engine.load(LoadModel(path=path, n_ctx=n_ctx))
        report["first"] = "loaded"
    except EngineCrashed as error:
        report["first"] = str(error)
        report["exitcode"] = error.exitcode
    finally:
        engine.close()
    report["cgroup_oom_kills"] = (_oom_kill_count(baseline.files) or 0) - baseline.count
    with EngineClient() as engine:  # the app goes on: a new engine, a load that fits, an answer
        engine.load(LoadModel(path=path, n_ctx=256))
        events = list(engine.generate(Generate(prompt="Hello", max_tokens=3)))
        report["tokens_after"] = events[-1].stats.gen_tokens
    print(json.dumps(report))
    """
)


def test_an_oom_killed_engine_is_reported_as_out_of_memory_and_the_app_goes_on(
    memory_cgroup: Path, bundled_path: Path
) -> None:
    result = _run_in_cgroup(memory_cgroup, [sys.executable, "-c", APP, str(bundled_path), str(HUGE_CTX)])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["exitcode"] == -signal.SIGKILL
    assert "while loading the model (SIGKILL, out of memory: the kernel's OOM killer" in report["first"]
    assert report["cgroup_oom_kills"] >= 1  # the cgroup counter saw it too, not only the kernel log
    assert report["tokens_after"] > 0


def test_the_cli_says_out_of_memory_when_the_engine_is_oom_killed(memory_cgroup: Path) -> None:
    # --force: the picker reads /proc/meminfo, which does not show the cgroup's limit.
    argv = [sys.executable, "-m", "edgeapp", "chat", "default", "--ctx", str(HUGE_CTX), "--force"]
    result = _run_in_cgroup(memory_cgroup, [*argv, "--prompt", "Hi", "--max-tokens", "2"])
    assert result.returncode == 1, result.stderr
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("edgeapp: ") and "warning" not in line
    ]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "out of memory: the kernel's OOM killer" in errors[0]
