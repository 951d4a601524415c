"""Printing helpers shared by the commands: JSON for scripts, aligned tables and sizes for people."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from edgeapp.units import format_bytes

__all__ = ["format_bytes"]  # re-exported: the commands format sizes through this module


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Give a command the `--json` flag every command takes."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def emit_json(value: Any) -> None:
    """Print `value` as JSON on stdout (one document, indented, UTF-8)."""
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=_json_default)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def describe_gpu_layers(gpu_layers: int, n_layers: int) -> str:
    """Say where the layers run: llama.cpp counts the output layer as one more (n_layers + 1 = all)."""
    if gpu_layers > n_layers:
        return f"all {n_layers} layers and the output layer on the GPU"
    return f"{gpu_layers} of {n_layers} layers on the GPU"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """Return rows as an aligned plain-text table; columns listed in `right` are right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def warn(message: str) -> None:
    """Print a one-line warning on stderr."""
    print(f"edgeapp: warning: {message}", file=sys.stderr)
