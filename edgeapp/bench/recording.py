"""File benchmark and comparison results in the per-machine measurement cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeapp.bench.cache import Measurement, MeasurementCache, file_identity

if TYPE_CHECKING:
    from edgeapp.bench.quality import CompareReport
    from edgeapp.bench.runner import BenchReport


def record_bench(report: BenchReport, cache: MeasurementCache) -> None:
    """Remember each run's figures under its file and the settings that shape them."""
    s = report.settings
    conditions = {
        "n_ctx": s.n_ctx,
        "gpu_layers": s.gpu_layers,
        "threads": s.threads,
        "n_predict": s.n_predict,
        "prompt": s.prompt_name,
    }
    measurements = []
    for run in report.runs:
        if run.model.path is None or not run.reps:
            continue
        values = run.to_json()
        values.pop("reps", None)
        measurements.append(
            Measurement(
                "bench", file_identity(run.model.path), run.model.model_id, run.quant, conditions, values
            )
        )
    if measurements:
        cache.record(*measurements)


def record_compare(report: CompareReport, cache: MeasurementCache) -> None:
    """Remember each row's quality under its file, the text, the context and the reference."""
    if report.reference.path is None:
        return
    reference = file_identity(report.reference.path)
    conditions = {
        "text_sha256": report.text.sha256,
        "n_ctx": report.settings.n_ctx,
        "chunks": report.rows[0].score.chunks if report.rows else 0,
        "reference_sha256": reference.sha256,
        "reference": report.reference.label,
    }
    measurements = [
        Measurement(
            "quality", file_identity(row.model.path), row.model.model_id, row.quant, conditions, row.to_json()
        )
        for row in report.rows
        if row.model.path is not None
    ]
    if measurements:
        cache.record(*measurements)
