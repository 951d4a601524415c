"""Fixtures for download tests: GGUF files derived from the bundled model, the fake hub, and an
isolated HF cache pointed at it (environment for child processes, huggingface_hub.constants for
this one, since it reads the environment at import time).

Test modules load them with `pytest_plugins = ("tests.conftest_hub",)`; the repo and file names
they use are in tests.hubserver.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hubserver import BUNDLED, FakeHub, derive_gguf


@dataclass(frozen=True)
class GgufFiles:
    small: Path  # ~6 MB: the scalar metadata and three layers
    padded: Path  # a 3 MB header: needs a second Range request
    full: Path  # the bundled 98 MB model itself
    corrupt: Path  # small with its header damaged (an absurd tensor count)


@pytest.fixture(scope="session")
def gguf_files(tmp_path_factory: pytest.TempPathFactory) -> GgufFiles:
    folder = tmp_path_factory.mktemp("gguf")
    small = derive_gguf(folder / "small.gguf")
    padded = derive_gguf(folder / "padded.gguf", n_layers=1, padding_bytes=3_000_000)
    corrupt = folder / "corrupt.gguf"
    data = bytearray(small.read_bytes())
    data[8:16] = (2**40).to_bytes(8, "little")  # tensor count
    corrupt.write_bytes(bytes(data))
    return GgufFiles(small=small, padded=padded, full=BUNDLED, corrupt=corrupt)


@pytest.fixture
def fake_hub():
    hub = FakeHub().start()
    yield hub
    hub.stop()


@dataclass(frozen=True)
class HubEnv:
    hub: FakeHub
    cache_dir: Path
    env: dict[str, str]  # for child processes

    def run_python(self, code: str, timeout_s: float = 60, **extra_env: str):
        import subprocess

        return subprocess.run(
            [sys.executable, "-c", code],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )


@pytest.fixture
def hub_env(fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubEnv:
    """Point huggingface_hub (here and in children) at the fake hub and a fresh cache."""
    from huggingface_hub import constants

    from edgeapp.downloads import transfer

    home = tmp_path / "hf"
    cache_dir = home / "hub"
    for name in ("config", "data", "cache"):
        monkeypatch.setenv(f"EDGEAPP_{name.upper()}_DIR", str(tmp_path / f"edgeapp-{name}"))
    values = {
        "HF_ENDPOINT": fake_hub.endpoint,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(cache_dir),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", fake_hub.endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        fake_hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False)
    monkeypatch.setattr(transfer, "RETRY_BACKOFF_S", (0.05, 0.05, 0.05))
    env = {k: v for k, v in os.environ.items()}
    return HubEnv(hub=fake_hub, cache_dir=cache_dir, env=env)
