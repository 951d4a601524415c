"""The evaluation text for perplexity and KL divergence: the one that ships, or the user's.

The shipped text, `data/python-reference-topics.txt`, is the first 22 topics (alphabetical, from
"assert" to "compound") of CPython 3.11's `pydoc_data.topics`: the Python Language Reference's
English prose, about 28,000 SmolLM2 tokens, under the PSF License v2 like the rest of the Python
documentation. It is a fixed file, not read from the running Python, so numbers stay comparable
across Python versions and machines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from edgeapp.errors import UsageError

DEFAULT_TEXT_NAME = "python-reference-topics"
_DEFAULT_TEXT = Path(__file__).parent / "data" / f"{DEFAULT_TEXT_NAME}.txt"


@dataclass(frozen=True)
class EvalText:
    """A text to score, with the name reports show and a hash that identifies it in the cache."""

    name: str
    text: str
    sha256: str
    path: str


def default_text_path() -> Path:
    """Return the path of the evaluation text that ships with edgeapp."""
    return _DEFAULT_TEXT


def load_text(path: str | Path | None = None) -> EvalText:
    """Return the evaluation text at `path` (default: the shipped one), read as llama-perplexity -f reads it.

    llama.cpp drops one trailing newline from a prompt file; so do we, so the tokens are the same.
    """
    source = Path(path).expanduser() if path is not None else _DEFAULT_TEXT
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such text file: {source}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {source} as UTF-8 text: {error}") from None
    if text.endswith("\n"):
        text = text[:-1]
    if not text.strip():
        raise UsageError(f"{source} is empty")
    name = DEFAULT_TEXT_NAME if path is None else source.name
    return EvalText(name, text, hashlib.sha256(text.encode("utf-8")).hexdigest(), str(source))
