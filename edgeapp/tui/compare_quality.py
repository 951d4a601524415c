"""Quality figures for the compare screen: from the measurement cache, or measured on demand.

Both come from `edgeapp.bench` (the `edgeapp compare` machinery): perplexity on the shipped
evaluation text, and KL divergence and top-1 agreement of each model against the more precise of
the two. The on-demand measurement scores only a few chunks so it takes seconds on a small model;
its results go into the per-machine cache like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeapp.comparison import QualityFigures

if TYPE_CHECKING:
    from edgeapp.hardware import HardwareInfo
    from edgeapp.refs import ResolvedModel

QUICK_CHUNKS = 3  # chunks of 512 tokens: seconds on the bundled model, enough for a first figure


def _figures(values: dict[str, Any], conditions: dict[str, Any]) -> QualityFigures:
    return QualityFigures(
        perplexity=float(values["ppl"]),
        kld_mean=values.get("kld_mean"),
        top1_agreement=values.get("top1_agreement"),
        reference=conditions.get("reference"),
        text_name=values.get("text") or conditions.get("text"),
    )


def _cache(hardware: HardwareInfo, build: str | None) -> Any:
    from edgeapp.bench.cache import MeasurementCache, machine_key

    return MeasurementCache(machine_key(hardware, build))


def cached_quality(
    path_a: Path, path_b: Path, hardware: HardwareInfo, build: str | None = None
) -> tuple[QualityFigures | None, QualityFigures | None]:
    """Return remembered quality of A and B measured under the same conditions (text, context, reference)."""
    from edgeapp.bench.cache import file_identity

    cache = _cache(hardware, build)
    a = cache.lookup("quality", sha256=file_identity(path_a).sha256)
    b = cache.lookup("quality", sha256=file_identity(path_b).sha256)
    for ma in a:  # newest first: the newest pair measured against one reference wins
        for mb in b:
            if ma.conditions == mb.conditions:
                return _figures(ma.values, ma.conditions), _figures(mb.values, mb.conditions)
    return None, None


def measure_quality(
    model_a: ResolvedModel,
    model_b: ResolvedModel,
    hardware: HardwareInfo,
    build: str | None = None,
    *,
    gpu_layers: int = 0,
    max_chunks: int | None = QUICK_CHUNKS,
    on_progress: Callable[[str, float | None], None] | None = None,
) -> tuple[QualityFigures, QualityFigures]:
    """Score A and B on the evaluation text (blocks for seconds to minutes); remember and return them."""
    from edgeapp.bench.cache import describe_machine, machine_key
    from edgeapp.bench.quality import CompareSettings, run_compare
    from edgeapp.bench.recording import record_compare
    from edgeapp.bench.text import load_text

    key = machine_key(hardware, build)
    settings = CompareSettings(max_chunks=max_chunks, n_predict=0, greedy_tokens=0, gpu_layers=gpu_layers)
    report = run_compare(
        [model_a, model_b],
        load_text(),
        settings,
        machine=describe_machine(hardware, key),
        on_progress=on_progress,
    )
    from edgeapp.bench.cache import MeasurementCache

    record_compare(report, MeasurementCache(key))
    by_path = {str(row.model.path): row for row in report.rows}
    result = []
    for model in (model_a, model_b):
        row = by_path[str(model.path)]
        result.append(
            QualityFigures(
                perplexity=row.score.ppl,
                kld_mean=row.kld_mean,
                top1_agreement=row.top1_agreement,
                reference=report.reference.label,
                text_name=report.text.name,
            )
        )
    return result[0], result[1]
