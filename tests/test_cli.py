"""The headless CLI as scripts use it: exit codes, one-line errors, the JSON fields promised."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

EDGEAPP = [sys.executable, "-m", "edgeapp"]


def edgeapp(
    *args: str, timeout: float = 300, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *EDGEAPP, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("edgeapp: ")
    return lines[0]


def test_help_lists_every_command() -> None:
    result = edgeapp("--help")
    assert result.returncode == 0
    for command in ("hw", "models", "pick", "pull", "chat", "bench", "compare", "quantize", "estimate"):
        assert command in result.stdout


def test_hw_json_has_the_documented_fields() -> None:
    data = json.loads(edgeapp("hw", "--json").stdout)
    assert set(data["ram"]) >= {"total_bytes", "available_bytes"}
    assert set(data["cpu"]) >= {"model", "arch", "physical_cores", "logical_cores", "features"}
    assert isinstance(data["gpus"], list) and "gpu_offload_supported" in data and "board" in data


def test_estimate_json_has_the_documented_fields(derive) -> None:
    derive("Q8_0")
    result = edgeapp("estimate", "default:Q8_0", "--ctx", "1024", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = {"model", "quant", "n_ctx", "gpu_layers", "n_layers", "exact", "weights_bytes", "kv_cache_bytes",
                "compute_bytes", "overhead_bytes", "ram_bytes", "vram_bytes"}  # fmt: skip
    assert expected <= set(data)
    assert data["exact"] is True and data["quant"] == "Q8_0" and data["n_ctx"] == 1024
    assert data["weights_bytes"] == 143_025_408 and data["vram_bytes"] == 0


def test_pick_json_gives_a_verdict_for_every_quant() -> None:
    result = edgeapp("pick", "qwen2.5-0.5b-instruct", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"model", "quant", "gpu_layers", "n_ctx", "reason", "estimate", "candidates"} <= set(data)
    assert [c["quant"] for c in data["candidates"]] == [
        "Q2_K",
        "Q3_K_M",
        "Q4_K_M",
        "Q5_K_M",
        "Q6_K",
        "Q8_0",
        "F16",
    ]
    for candidate in data["candidates"]:
        assert {"quant", "verdict", "gpu_layers", "ram_bytes", "vram_bytes"} <= set(candidate)
        assert candidate["verdict"] in ("gpu", "partial", "cpu", "too_large")
    assert data["quant"] == "Q8_0" and data["reason"].startswith("Q8_0 runs on the CPU")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to cut the network")
def test_chat_answers_with_the_network_cut_off() -> None:
    # A network namespace with no interfaces but a down loopback: nothing can be reached.
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -n is not permitted here")
    result = edgeapp(
        "chat", "default", "--prompt", "Say hello.", "--max-tokens", "12", "--json", prefix=("unshare", "-n")
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = {"model", "quant", "text", "prompt_tokens", "gen_tokens", "load_s", "ttft_s", "prompt_tps",
                "gen_tps", "peak_rss_bytes", "peak_vram_bytes", "gpu_layers"}  # fmt: skip
    assert expected <= set(data)
    assert data["model"] == "default" and data["quant"] == "Q4_1" and data["text"].strip()
    assert 0 < data["gen_tokens"] <= 12 and data["peak_rss_bytes"] > 100 * 2**20


def test_chat_streams_plain_text_and_a_stats_line() -> None:
    result = edgeapp("chat", "default", "--prompt", "Say hi.", "--max-tokens", "8")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "tok/s" in result.stderr


def test_chat_repl_reads_turns_from_stdin() -> None:
    result = subprocess.run(
        [*EDGEAPP, "chat", "default", "--max-tokens", "8"],
        input="Hello\n/new\nBye\n/exit\n",
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("tokens at") == 2 and "(new conversation)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("chat", "default:Q9_9", "--prompt", "x"), "unknown quant"),
        (("estimate", "default", "--ctx", "4"), "--ctx must be at least"),
        (("chat", "default", "--gpu-layers", "lots", "--prompt", "x"), "GPU layers must be"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = edgeapp(*args)
    assert result.returncode == 2
    assert message in one_line_error(result)


def test_runtime_errors_exit_1_with_one_line(tmp_path: Path) -> None:
    missing = edgeapp("chat", str(tmp_path / "missing.gguf"), "--prompt", "x")
    assert missing.returncode == 1 and "no such file" in one_line_error(missing)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"<html>not a model</html>" * 10)
    corrupt = edgeapp("estimate", str(junk))
    assert corrupt.returncode == 1 and "not a usable GGUF file" in one_line_error(corrupt)
    unknown = edgeapp("pick", "no-such-model")
    assert unknown.returncode == 1 and "no model 'no-such-model'" in one_line_error(unknown)
    not_pulled = edgeapp("chat", "phi-2:Q4_K_M", "--prompt", "x")
    assert not_pulled.returncode == 1 and "edgeapp pull phi-2:Q4_K_M" in one_line_error(not_pulled)


def test_a_model_too_large_is_refused_with_numbers_unless_forced(tmp_path: Path) -> None:
    settings = Path(os.environ["EDGEAPP_CONFIG_DIR"]) / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    total = psutil.virtual_memory().total
    settings.write_text(json.dumps({"min_free_ram_bytes": total}))  # leave everything free: nothing fits
    refused = edgeapp("chat", "default", "--prompt", "x", "--max-tokens", "2")
    assert refused.returncode == 1
    line = one_line_error(refused)
    assert "needs about" in line and "GB of RAM" in line and "--force" in line
    forced = edgeapp("chat", "default", "--prompt", "x", "--max-tokens", "2", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "warning" in forced.stderr


def test_killing_the_engine_mid_reply_exits_1_with_a_clear_message() -> None:
    process = subprocess.Popen(
        [*EDGEAPP, "chat", "default", "--prompt", "Write a long story.", "--max-tokens", "4000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        process.stdout.read(1)  # the reply has started streaming
        engines = [
            p for p in psutil.Process(process.pid).children(recursive=True) if "python" in p.name().lower()
        ]
        assert engines, "no engine process found"
        for engine in engines:
            engine.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    lines = [line for line in stderr.splitlines() if line.startswith("edgeapp:")]
    assert lines and "engine process died" in lines[-1] and "SIGKILL" in lines[-1]
    assert "Traceback" not in stderr


def test_help_is_fast_enough_to_feel_instant() -> None:
    # Not a timing assertion: the speed target is checked by benchmarks/startup.py. This guards the
    # cause instead: --help must not import the heavy modules.
    code = (
        "import sys, edgeapp.cli.main as m; m.build_parser();"
        "heavy = [n for n in ('llama_cpp', 'numpy', 'huggingface_hub', 'textual', 'gguf', 'psutil') if n in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    time.sleep(0)


def test_gpu_layers_are_described_as_llama_cpp_counts_them() -> None:
    from edgeapp.cli.output import describe_gpu_layers

    assert describe_gpu_layers(31, 30) == "all 30 layers and the output layer on the GPU"
    assert describe_gpu_layers(15, 30) == "15 of 30 layers on the GPU"
    assert describe_gpu_layers(0, 30) == "0 of 30 layers on the GPU"
