"""Human-readable sizes, shared by the CLI, the TUI and core messages (downloads' errors)."""

from __future__ import annotations


def format_bytes(n: int | float | None) -> str:
    """Return a size in binary units with three significant figures (`1.23 GiB`)."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.0f} TiB"
