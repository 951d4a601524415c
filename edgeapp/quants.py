"""The quantization types edgeapp knows, ordered from smallest to most precise.

`QUANTS` is the ladder the catalog, the picker and the quantizer share. Bits per weight are the
effective figures for a 7B Llama-2 mix (../shared/reference/facts.md); the real size always comes
from a GGUF header when one is available.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuantType:
    name: str
    rank: int  # higher is more precise
    bits_per_weight: float  # effective, for estimates without a header
    llama_ftype: int  # enum llama_ftype, for llama_model_quantize


QUANT_TYPES: tuple[QuantType, ...] = (
    QuantType("Q2_K", 0, 3.35, 10),
    QuantType("Q3_K_M", 1, 3.91, 12),
    QuantType("Q4_K_M", 2, 4.85, 15),
    QuantType("Q5_K_M", 3, 5.69, 17),
    QuantType("Q6_K", 4, 6.59, 18),
    QuantType("Q8_0", 5, 8.50, 7),
    QuantType("F16", 6, 16.0, 1),
)

QUANTS: tuple[str, ...] = tuple(q.name for q in QUANT_TYPES)
_BY_NAME = {q.name: q for q in QUANT_TYPES}

# File types llama.cpp writes into `general.file_type` that are not on our ladder but can be
# read from a local file (the bundled model is Q4_1).
FTYPE_NAMES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}


def is_known_quant(name: str) -> bool:
    """Return True if `name` is on the ladder (case-insensitive)."""
    return name.upper() in _BY_NAME


def quant_type(name: str) -> QuantType:
    """Return the ladder entry for `name` (case-insensitive); KeyError if unknown."""
    return _BY_NAME[name.upper()]


def normalize_quant(name: str) -> str:
    """Return the canonical spelling of a quant name (`q4_k_m` -> `Q4_K_M`)."""
    return name.upper()


def quant_rank(name: str) -> int:
    """Return the precision rank of a quant; unknown types rank by their bits."""
    upper = name.upper()
    if upper in _BY_NAME:
        return _BY_NAME[upper].rank
    return {"F32": 7, "BF16": 6, "Q4_0": 2, "Q4_1": 2, "Q5_0": 3, "Q5_1": 3}.get(upper, -1)
