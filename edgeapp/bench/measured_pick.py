"""`edgeapp pick REF --max-kld X --min-tps Y`: the smallest quant that meets a quality and speed budget.

Measurements on this machine come first (the cache that `bench` and `compare` fill); a quant with
no measurement gets an estimate, and the answer says which figures were measured and which were
estimated. Estimates are calibrated on what was measured:
- KL divergence: typical figures per quant type from published llama.cpp tables (7-8B models
  against F16), scaled by how far this model's measured quants sit from those figures (small
  models lose more: SmolLM2-135M's Q2_K measures 0.46 where a 7B's is about 0.3);
- speed: decoding is memory-bandwidth bound, so tokens/s × file size is nearly constant across the
  quants of one model on one machine; a measured quant gives the others, and without one, the
  machine's other measurements give an effective bandwidth.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from edgeapp.bench.cache import MeasurementCache, file_identity, machine_key
from edgeapp.errors import UsageError
from edgeapp.quants import QUANTS, normalize_quant, quant_type

if TYPE_CHECKING:
    from edgeapp.hardware import HardwareInfo

Basis = Literal["measured", "estimated"]

# Mean KLD against F16 for 7-8B Llama/Mistral models, rounded (llama.cpp PR #5076 and the KLD
# tables of discussion #5962). Only a starting point; see the module docstring.
TYPICAL_KLD: dict[str, float] = {
    "Q2_K": 0.30,
    "Q3_K_M": 0.09,
    "Q4_K_M": 0.03,
    "Q5_K_M": 0.01,
    "Q6_K": 0.004,
    "Q8_0": 0.001,
    "F16": 0.0,
}


@dataclass(frozen=True)
class MeasuredRow:
    """One quant: its size, quality and speed, and where each figure comes from."""

    quant: str
    path: str | None
    size_bytes: int
    kld_mean: float | None
    kld_basis: Basis | None
    gen_tps: float | None
    tps_basis: Basis | None
    meets: bool
    note: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MeasuredPick:
    """The chosen quant (None if none meets the budget), whether its figures were measured, and why."""

    quant: str | None
    basis: Basis
    reason: str
    rows: tuple[MeasuredRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "quant": self.quant,
            "basis": self.basis,
            "reason": self.reason,
            "rows": [r.to_json() for r in self.rows],
        }


def measured_pick(
    model_ref: str,
    quants: tuple[str, ...] | list[str] | None,
    max_kld: float | None,
    min_tps: float | None,
    hw: HardwareInfo,
    cache: MeasurementCache | None = None,
) -> MeasuredPick:
    """Return the smallest quant of `model_ref` with mean KLD ≤ max_kld and speed ≥ min_tps."""
    from edgeapp import refs

    resolved = refs.resolve(model_ref)
    if resolved.kind == "path":
        raise UsageError("a measured pick chooses among the quants of a catalog model or default, not a file")
    ladder = [
        normalize_quant(q) for q in (quants or (resolved.catalog.quants if resolved.catalog else QUANTS))
    ]
    cache = cache or MeasurementCache(machine_key(hw))
    facts = [_facts(resolved.model_id, quant, cache) for quant in ladder]
    _fill_kld_estimates(facts)
    _fill_tps_estimates(facts, cache)
    rows = tuple(_judge(f, max_kld, min_tps) for f in facts)
    passing = sorted((r for r in rows if r.meets), key=lambda r: (r.size_bytes, quant_type(r.quant).rank))
    if not passing:
        return MeasuredPick(None, _basis(rows), _nothing_reason(rows, max_kld, min_tps), rows)
    best = passing[0]
    basis: Basis = "measured" if _used_measured(best, max_kld, min_tps) else "estimated"
    return MeasuredPick(best.quant, basis, _reason(best, rows, max_kld, min_tps), rows)


def _facts(model_id: str, quant: str, cache: MeasurementCache) -> dict[str, Any]:
    """Return what is known of one quant: its file, size and any measured KLD and speed."""
    from edgeapp import refs

    resolved = refs.resolve(f"{model_id}:{quant}")
    path = resolved.path
    sha = file_identity(path).sha256 if path is not None else None
    size = path.stat().st_size if path is not None else _estimated_size(resolved, quant)
    lookup = {"sha256": sha} if sha else {"model": model_id, "quant": quant}
    quality = [m for m in cache.lookup("quality", **lookup) if m.values.get("kld_mean") is not None]
    speed = [m for m in cache.lookup("bench", **lookup) if m.values.get("gen_tps")]
    speed = speed or [m for m in cache.lookup("quality", **lookup) if m.values.get("gen_tps")]
    return {
        "quant": quant,
        "path": str(path) if path else None,
        "size_bytes": size,
        "kld": quality[0].values["kld_mean"] if quality else None,
        "kld_basis": "measured" if quality else None,
        "tps": speed[0].values["gen_tps"] if speed else None,
        "tps_basis": "measured" if speed else None,
        "note": "",
    }


def _estimated_size(resolved: Any, quant: str) -> int:
    params = resolved.catalog.params if resolved.catalog else 134_515_008  # SmolLM2-135M
    return int(params * quant_type(quant).bits_per_weight / 8)


def _fill_kld_estimates(facts: list[dict[str, Any]]) -> None:
    ratios = [
        f["kld"] / TYPICAL_KLD[f["quant"]]
        for f in facts
        if f["kld"] is not None and TYPICAL_KLD.get(f["quant"], 0) > 0
    ]
    scale = statistics.median(ratios) if ratios else 1.0
    for f in facts:
        if f["kld"] is None and f["quant"] in TYPICAL_KLD:
            f["kld"] = TYPICAL_KLD[f["quant"]] * scale
            f["kld_basis"] = "estimated"


def _fill_tps_estimates(facts: list[dict[str, Any]], cache: MeasurementCache) -> None:
    measured = [f["tps"] * f["size_bytes"] for f in facts if f["tps_basis"] == "measured"]
    source = "this model's measured quants"
    if not measured:
        # Any model measured on this machine gives its effective memory bandwidth.
        measured = [
            m.values["gen_tps"] * m.file.size_bytes
            for m in cache.load()
            if m.kind == "bench" and m.values.get("gen_tps")
        ]
        source = "other models measured on this machine"
    if not measured:
        return
    bandwidth = statistics.median(measured)
    for f in facts:
        if f["tps"] is None and f["size_bytes"]:
            f["tps"] = bandwidth / f["size_bytes"]
            f["tps_basis"] = "estimated"
            f["note"] = f"speed scaled by file size from {source}"


def _judge(f: dict[str, Any], max_kld: float | None, min_tps: float | None) -> MeasuredRow:
    problems = []
    if max_kld is not None and (f["kld"] is None or f["kld"] > max_kld):
        problems.append("KLD unknown" if f["kld"] is None else f"KLD {f['kld']:.4f} > {max_kld:g}")
    if min_tps is not None and (f["tps"] is None or f["tps"] < min_tps):
        problems.append(
            "speed unknown (run `edgeapp bench`)"
            if f["tps"] is None
            else f"{f['tps']:.1f} tok/s < {min_tps:g}"
        )
    note = "; ".join(p for p in (f["note"], ", ".join(problems)) if p)
    return MeasuredRow(
        quant=f["quant"],
        path=f["path"],
        size_bytes=f["size_bytes"],
        kld_mean=f["kld"],
        kld_basis=f["kld_basis"],
        gen_tps=f["tps"],
        tps_basis=f["tps_basis"],
        meets=not problems,
        note=note,
    )


def _used_measured(row: MeasuredRow, max_kld: float | None, min_tps: float | None) -> bool:
    return (max_kld is None or row.kld_basis == "measured") and (
        min_tps is None or row.tps_basis == "measured"
    )


def _basis(rows: tuple[MeasuredRow, ...]) -> Basis:
    measured = all(r.kld_basis == "measured" and r.tps_basis == "measured" for r in rows)
    return "measured" if measured else "estimated"


def _figures(row: MeasuredRow) -> str:
    kld = "KLD ?" if row.kld_mean is None else f"mean KLD {row.kld_mean:.4f} ({row.kld_basis})"
    tps = "speed ?" if row.gen_tps is None else f"{row.gen_tps:.1f} tok/s ({row.tps_basis})"
    return f"{kld}, {tps}"


def _reason(
    best: MeasuredRow, rows: tuple[MeasuredRow, ...], max_kld: float | None, min_tps: float | None
) -> str:
    budget = " and ".join(
        part
        for part in (
            f"KLD ≤ {max_kld:g}" if max_kld is not None else "",
            f"≥ {min_tps:g} tok/s" if min_tps is not None else "",
        )
        if part
    )
    text = f"{best.quant} is the smallest quant within {budget or 'no budget'}: {_figures(best)}"
    smaller = [r for r in rows if r.size_bytes < best.size_bytes and not r.meets]
    if smaller:
        text += "; smaller quants miss it: " + "; ".join(f"{r.quant} {r.note}" for r in smaller)
    return text


def _nothing_reason(rows: tuple[MeasuredRow, ...], max_kld: float | None, min_tps: float | None) -> str:
    misses = "; ".join(f"{r.quant}: {r.note}" for r in rows)
    return f"no quant meets the budget ({misses}); relax --max-kld or --min-tps, or measure with `edgeapp compare` and `edgeapp bench`"
