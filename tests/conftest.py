"""Shared test setup: every test gets its own edgeapp directories and Hugging Face cache, so no
test reads or writes the user's files; quants derived from the bundled model are shared by the
whole session (deriving them takes a few seconds each, and they never change).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.conftest_hub"]


@pytest.fixture(scope="session")
def derived_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the session-wide directory of quants derived from the bundled model."""
    shared = os.environ.get("EDGEAPP_TEST_DERIVED_DIR")  # CI may keep them between runs
    if shared:
        path = Path(shared)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("derived")


@pytest.fixture(autouse=True)
def isolated_edgeapp_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, derived_dir: Path) -> Path:
    """Point edgeapp's config, data and cache directories (and HF_HOME) at a fresh temp tree."""
    root = tmp_path / "edgeapp-home"
    for name in ("config", "data", "cache"):
        monkeypatch.setenv(f"EDGEAPP_{name.upper()}_DIR", str(root / name))
    monkeypatch.setenv("EDGEAPP_DERIVED_DIR", str(derived_dir))
    monkeypatch.delenv("EDGEAPP_TRANSCRIPTS_DIR", raising=False)
    monkeypatch.delenv("EDGEAPP_MEASUREMENTS_DIR", raising=False)
    monkeypatch.setenv("HF_HOME", str(root / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return root


@pytest.fixture(scope="session")
def bundled_path() -> Path:
    """Return the bundled SmolLM2-135M-Instruct Q4_1 file."""
    from edgeapp.bundled import bundled_model_path

    return bundled_model_path()


@pytest.fixture(scope="session")
def derive(derived_dir: Path):
    """Return a function quant -> path of `default:<quant>`, derived once per session."""

    def _derive(quant: str) -> Path:
        previous = os.environ.get("EDGEAPP_DERIVED_DIR")
        os.environ["EDGEAPP_DERIVED_DIR"] = str(derived_dir)
        try:
            from edgeapp.bundled import ensure_derived

            return ensure_derived(quant)
        finally:
            if previous is None:
                os.environ.pop("EDGEAPP_DERIVED_DIR", None)
            else:
                os.environ["EDGEAPP_DERIVED_DIR"] = previous

    return _derive
