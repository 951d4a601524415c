"""Nothing half-written: SIGKILL a writer in the middle of each kind of write and find the
previous version intact.

Each kind is written once (the previous version), then a child process starts a second, large
write with the real function (settings, a transcript, the benchmark cache, a download's verified
record, a quantization in the engine). The test watches the directory, and once the writer's
temporary file holds bytes (the write is under way) it SIGKILLs the writer. Then the readers must
see the previous version, the temporary file must not pass for the real one, and the next write
must clean it up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeapp import locations

BIG_CHARS = 256 * 1024 * 1024  # a write of this size takes long enough to be caught half-way
CATCH_GUARD_S = 120


def wait_for_temp_file(directory: Path, target_name: str, still_writing: Callable[[], bool]) -> Path:
    """Return the first temporary file of `target_name` in `directory` that holds bytes."""
    prefix = f".{target_name}."
    deadline = time.monotonic() + CATCH_GUARD_S
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(directory):
                if entry.name.startswith(prefix) and entry.stat().st_size > 0:
                    return Path(entry.path)
        if not still_writing():
            pytest.fail(f"the write of {target_name} ended before it could be caught half-way")
        time.sleep(0.002)
    pytest.fail(f"no temporary file for {target_name} within {CATCH_GUARD_S} s")


def kill_child_mid_write(code: str, directory: Path, target_name: str) -> Path:
    """Run `code` in a child process group, SIGKILL it mid-write; return the temporary file left."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=os.environ.copy(), start_new_session=True
    )
    try:
        temp = wait_for_temp_file(directory, target_name, lambda: child.poll() is None)
        os.killpg(child.pid, signal.SIGKILL)  # the app and, where there is one, its engine
        child.wait(30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
    assert child.returncode == -signal.SIGKILL
    assert temp.exists() and temp.stat().st_size > 0  # the half-written file is still there...
    return temp


def run_python(code: str, timeout_s: float = 120) -> str:
    """Run `code` in a fresh interpreter (bounded: a stuck lock would otherwise hang the test)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_settings_survive_a_kill_mid_save() -> None:
    from edgeapp.settings import Settings, load_settings, save_settings

    save_settings(Settings(system_prompt="previous version", seed=7))
    target = locations.settings_file()
    temp = kill_child_mid_write(
        f"""
        from edgeapp.settings import Settings, save_settings
        save_settings(Settings(system_prompt="x" * {BIG_CHARS}, seed=8))
        """,
        target.parent,
        target.name,
    )
    settings = load_settings()
    assert (settings.system_prompt, settings.seed) == ("previous version", 7)
    assert json.loads(target.read_text())["seed"] == 7
    assert temp.name != target.name and not temp.name.endswith(".json")
    save_settings(Settings(system_prompt="next version"))  # ...until the next write clears it
    assert not temp.exists() and load_settings().system_prompt == "next version"


def test_a_transcript_survives_a_kill_mid_save() -> None:
    from edgeapp.transcripts import (
        TranscriptMessage,
        list_transcripts,
        load_transcript,
        new_transcript,
        save_transcript,
    )

    transcript = new_transcript("default", {"n_ctx": 2048}, "Be brief.")
    transcript = transcript.with_message(TranscriptMessage("user", "previous version"))
    path = save_transcript(transcript)
    temp = kill_child_mid_write(
        f"""
        from edgeapp.transcripts import TranscriptMessage, load_transcript, save_transcript
        old = load_transcript({transcript.id!r})
        save_transcript(old.with_message(TranscriptMessage("assistant", "x" * {BIG_CHARS})))
        """,
        path.parent,
        path.name,
    )
    assert load_transcript(transcript.id) == transcript
    listed = list_transcripts()
    assert [s.id for s in listed] == [transcript.id] and listed[0].message_count == 1
    save_transcript(transcript.with_message(TranscriptMessage("assistant", "next version")))
    assert not temp.exists() and len(load_transcript(transcript.id).messages) == 3


def _measurement_code(values: str, n_ctx: int) -> str:
    return f"""
        from edgeapp.bench.cache import FileIdentity, MachineKey, Measurement, MeasurementCache
        cache = MeasurementCache(MachineKey("reliability", {{"cpu": "test"}}))
        cache.record(Measurement("bench", FileIdentity("a" * 64, 1, "m.gguf"), "m", "Q4_0",
                                 {{"n_ctx": {n_ctx}}}, {values}, "2025-01-01T00:00:00"))
        """


def test_the_benchmark_cache_survives_a_kill_mid_record() -> None:
    from edgeapp.bench.cache import MachineKey, MeasurementCache

    run_python(_measurement_code('{"gen_tps": 123.0}', 512))
    cache = MeasurementCache(MachineKey("reliability", {"cpu": "test"}))
    before = cache.load()
    assert [m.values for m in before] == [{"gen_tps": 123.0}]
    temp = kill_child_mid_write(
        _measurement_code(f'{{"blob": "x" * {BIG_CHARS}}}', 1024), cache.directory, cache.path.name
    )
    assert cache.load() == before
    # The killed writer held the cache's file lock; the kernel released it with the process, so
    # the next record goes through (in a bounded child: a stuck lock would hang forever).
    run_python(_measurement_code('{"gen_tps": 456.0}', 2048))
    assert sorted(m.values["gen_tps"] for m in cache.load()) == [123.0, 456.0]
    assert not temp.exists()


def test_a_downloads_verified_record_survives_a_kill_mid_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    from edgeapp.downloads.cache import read_record, record_path, write_record

    repo, etag = "owner/model-GGUF", "e" * 64
    write_record(repo, etag, filename="m.Q4_0.gguf", sha256="f" * 64, verified=True)
    before = read_record(repo, etag)
    target = record_path(repo, etag)
    temp = kill_child_mid_write(
        f"""
        from edgeapp.downloads.cache import write_record
        write_record({repo!r}, {etag!r}, verified=False, note="x" * {BIG_CHARS})
        """,
        target.parent,
        target.name,
    )
    assert read_record(repo, etag) == before and before["verified"] is True
    write_record(repo, etag, checked_again=True)
    assert not temp.exists() and read_record(repo, etag)["verified"] is True


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_quantized_file_survives_killing_the_engine_mid_quantization(
    tmp_path: Path, bundled_path: Path
) -> None:
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import Quantize
    from edgeapp.errors import EngineCrashed
    from edgeapp.gguf_file import read_header

    out = tmp_path / "out"
    out.mkdir()
    target = out / "model.gguf"
    with EngineClient() as engine:
        engine.quantize(Quantize(src=str(bundled_path), dst=str(target), quant="Q2_K"))
    previous = _sha256(target)
    failures: list[BaseException] = []
    engine = EngineClient()
    engine.start()
    try:

        def requantize() -> None:
            try:
                engine.quantize(Quantize(src=str(bundled_path), dst=str(target), quant="Q8_0"))
            except BaseException as error:  # noqa: BLE001 - collected for the assertion below
                failures.append(error)

        thread = threading.Thread(target=requantize)
        thread.start()
        temp = wait_for_temp_file(out, target.name, thread.is_alive)
        os.kill(engine.pid, signal.SIGKILL)  # type: ignore[arg-type]
        thread.join(60)
    finally:
        engine.close()
    assert len(failures) == 1 and isinstance(failures[0], EngineCrashed)
    assert "SIGKILL" in str(failures[0]) and "quantizing" in str(failures[0])
    assert _sha256(target) == previous and read_header(target).file_type == "Q2_K"
    assert temp.exists()
    with EngineClient() as engine:  # the next write to the same target clears the dead one's file
        engine.quantize(Quantize(src=str(bundled_path), dst=str(target), quant="Q8_0"))
    assert not temp.exists() and read_header(target).file_type == "Q8_0"
    assert [p.name for p in out.iterdir()] == ["model.gguf"]


@pytest.mark.slow
def test_killing_the_app_while_it_derives_a_quant_leaves_no_half_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    derived = tmp_path / "derived"
    monkeypatch.setenv("EDGEAPP_DERIVED_DIR", str(derived))  # not the session's shared cache
    from edgeapp import bundled
    from edgeapp.gguf_file import read_header
    from edgeapp.refs import resolve

    f16 = bundled.derived_path("F16")
    temp = kill_child_mid_write(
        "from edgeapp.bundled import ensure_derived; ensure_derived('Q8_0')", derived, f16.name
    )
    assert not f16.exists() and not bundled.is_derived("Q8_0")
    assert resolve("default:Q8_0").path is None  # the temporary file is not taken for the model
    out = run_python("from edgeapp.bundled import ensure_derived; print(ensure_derived('Q8_0'))", 300)
    assert Path(out.strip()) == bundled.derived_path("Q8_0")
    assert (
        read_header(f16).file_type == "F16" and read_header(bundled.derived_path("Q8_0")).file_type == "Q8_0"
    )
    assert not temp.exists()
    assert sorted(p.name for p in derived.iterdir() if p.name != ".lock") == sorted(
        [f16.name, bundled.derived_path("Q8_0").name]
    )


def test_a_live_writers_temporary_file_is_left_alone() -> None:
    from edgeapp.settings import Settings, save_settings

    target = locations.settings_file()
    save_settings(Settings())
    writer = subprocess.Popen(["sleep", "60"])  # stands in for a second app saving at this moment
    try:
        live = target.parent / f".{target.name}.{writer.pid}.abcd1234.tmp"
        live.write_text("{half")
        save_settings(Settings(seed=1))
        assert live.exists()  # its writer still runs: it will rename or remove it itself
    finally:
        writer.kill()
        writer.wait()
    save_settings(Settings(seed=2))
    assert not live.exists()
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []
