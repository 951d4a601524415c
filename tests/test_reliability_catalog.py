"""Catalog input, the cases tests/test_catalog.py leaves out: tables given as other types, quant
names in the wrong case or misspelt, and a hostile user catalog met through the CLI (one line,
exit 1, naming the file, the entry and the field).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeapp.catalog import load_catalog
from edgeapp.errors import CatalogError

GOOD = Path(__file__).parent / "fixtures" / "catalogs" / "good" / "minimal.toml"


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    """Write the good catalog with `old` replaced by `new` (several pairs: separated by '||')."""
    text = GOOD.read_text(encoding="utf-8")
    for before, after in zip(old.split("||"), new.split("||"), strict=True):
        assert before in text
        text = text.replace(before, after)
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "entry", "field", "words"),
    [
        ('[models.tiny-model.files]\nQ4_K_M = "Tiny-Model-Q4_K_M.gguf"\nQ8_0 = "Tiny-Model-Q8_0.gguf"||gated = false',
         '||gated = false\nfiles = "Tiny-Model-Q4_K_M.gguf"', "tiny-model", "files",
         "must be a table of quant = file name"),
        ("[models.tiny-model.arch]||gated = false", "[models.tiny-model.unused]||gated = false\narch = 30",
         "tiny-model", "arch", "must be a table"),
        ('Q8_0 = "Tiny-Model-Q8_0.gguf"', 'Q8_0 = ["Tiny-Model-Q8_0.gguf"]', "tiny-model", "files.Q8_0",
         "must be a string, not an array"),
        ('repo = "example/Tiny-Model-GGUF"', "repo = 42", "tiny-model", "repo", "must be a string, not an integer"),
        ("gated = false", 'gated = "no"', "tiny-model", "gated", "must be true or false, not a string"),
        ('Q8_0 = "Tiny-Model-Q8_0.gguf"', 'q8_0 = "Tiny-Model-Q8_0.gguf"', "tiny-model", "files.q8_0",
         "unknown quant; valid quants: Q2_K"),
        ('Q8_0 = "Tiny-Model-Q8_0.gguf"', 'Q4_K = "Tiny-Model-Q4_K.gguf"', "tiny-model", "files.Q4_K",
         "did you mean Q4_K_"),
        ('Q8_0 = "Tiny-Model-Q8_0.gguf"', 'Q8_0 = "/home/me/.ssh/id_rsa.gguf"', "tiny-model", "files.Q8_0",
         "must be a relative file name inside the repo"),
        ('Q8_0 = "Tiny-Model-Q8_0.gguf"', 'Q8_0 = "models/../../../.bashrc.gguf"', "tiny-model", "files.Q8_0",
         "must be a relative file name inside the repo"),
        ('repo = "example/Tiny-Model-GGUF"', 'repo = "../../example/Tiny"', "tiny-model", "repo",
         "is not a Hugging Face repo id"),
        ('repo = "example/Tiny-Model-GGUF"', 'repo = "https://evil.example/x"', "tiny-model", "repo",
         "is not a Hugging Face repo id"),
    ],
)  # fmt: skip
def test_wrong_types_and_unknown_quants_name_file_entry_and_field(
    tmp_path: Path, old: str, new: str, entry: str, field: str, words: str
) -> None:
    path = _variant(tmp_path, old, new)
    with pytest.raises(CatalogError) as raised:
        load_catalog(builtin_path=path, user_path=Path("/nonexistent/models.toml"))
    message = str(raised.value)
    assert message.startswith(f"{path}: [models.{entry}] {field}: "), message
    assert words in message and "\n" not in message


def test_models_given_as_an_array_is_refused_at_the_top(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('version = 1\nmodels = ["tiny-model"]\n', encoding="utf-8")
    with pytest.raises(
        CatalogError, match=r"models\.toml: models: must be a table of \[models\.<id>\] entries"
    ):
        load_catalog(builtin_path=path, user_path=Path("/nonexistent/models.toml"))


@pytest.mark.parametrize("command", [("models",), ("pick", "tiny-model"), ("models", "--json")])
def test_a_hostile_user_catalog_is_one_line_through_the_cli(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = Path(os.environ["EDGEAPP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    user = config / "models.toml"
    user.write_text(
        GOOD.read_text(encoding="utf-8").replace('"Tiny-Model-Q8_0.gguf"', json.dumps("../../../etc/passwd")),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "edgeapp", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"edgeapp: {user}: [models.tiny-model] files.Q8_0: '../../../etc/passwd' ")
