"""Where edgeapp keeps things. One module knows; everything else asks it.

Every directory can be moved with an environment variable, which is how the tests keep
each run in a temporary tree: EDGEAPP_CONFIG_DIR, EDGEAPP_DATA_DIR, EDGEAPP_CACHE_DIR.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_APP = "edgeapp"


def _dir(env: str, default: str) -> Path:
    path = Path(os.environ.get(env) or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_directory() -> Path:
    """Return the directory for settings and the user's catalog."""
    return _dir("EDGEAPP_CONFIG_DIR", platformdirs.user_config_dir(_APP))


def data_directory() -> Path:
    """Return the directory for things the user made: transcripts, comparisons."""
    return _dir("EDGEAPP_DATA_DIR", platformdirs.user_data_dir(_APP))


def cache_directory() -> Path:
    """Return the directory for things edgeapp can rebuild: derived quants, measurements."""
    return _dir("EDGEAPP_CACHE_DIR", platformdirs.user_cache_dir(_APP))


def user_catalog_file() -> Path:
    """Return the path of the user's catalog, which extends or overrides models.toml."""
    return config_directory() / "models.toml"


def settings_file() -> Path:
    """Return the path of the settings file."""
    return config_directory() / "settings.json"


def transcripts_directory() -> Path:
    """Return the directory where chat transcripts are saved."""
    return _dir("EDGEAPP_TRANSCRIPTS_DIR", str(data_directory() / "transcripts"))


def derived_models_directory() -> Path:
    """Return the directory where quants derived from the bundled model live."""
    return _dir("EDGEAPP_DERIVED_DIR", str(cache_directory() / "derived"))


def measurements_directory() -> Path:
    """Return the directory of cached benchmark and quality measurements."""
    return _dir("EDGEAPP_MEASUREMENTS_DIR", str(cache_directory() / "measurements"))
