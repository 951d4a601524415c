"""Comparisons: B/A ratios, cost and EQ at a price, quality rows, Markdown and JSON export."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from edgeapp.comparison import (
    RACE_NOTE,
    Comparison,
    QualityFigures,
    SideResult,
    comparisons_directory,
    export_comparison,
    format_bytes,
    format_value,
    rate_series,
    ratio,
    to_markdown,
)
from edgeapp.cost import efficiency_quotient, inference_cost_usd

A = SideResult(
    label="default:Q2_K",
    ref="default:Q2_K",
    path="/m/a.gguf",
    size_bytes=88_158_592,
    load_s=0.3,
    ttft_s=0.06,
    prompt_tps=900.0,
    gen_tps=160.0,
    gen_tokens=64,
    prompt_tokens=40,
    total_s=0.5,
    peak_rss_bytes=190_000_000,
    peak_vram_bytes=None,
    threads=2,
    gpu_layers=0,
    n_layers=30,
    stop_reason="length",
    text="Answer A.\n\nSecond line.",
    token_times=((0.0, 1), (0.1, 16), (0.2, 16), (0.35, 31)),
)
B = replace(
    A,
    label="default:Q8_0",
    ref="default:Q8_0",
    path="/m/b.gguf",
    size_bytes=144_811_520,
    gen_tps=120.0,
    total_s=0.8,
    text="Answer B.",
)


def comparison(**changes) -> Comparison:
    base = Comparison(prompt="Why?", mode="fair", settings={"n_ctx": 2048}, a=A, b=B, price_per_hour=0.768)
    return replace(base, **changes)


def test_rows_carry_both_figures_and_the_ratio_b_over_a():
    rows = {row.key: row for row in comparison().rows()}
    assert rows["gen_tps"].a == 160.0 and rows["gen_tps"].b == 120.0
    assert rows["gen_tps"].ratio == pytest.approx(0.75)
    assert rows["size_bytes"].ratio == pytest.approx(144_811_520 / 88_158_592)
    assert rows["peak_vram_bytes"].ratio is None  # no GPU: no ratio rather than a division by zero
    assert rows["cost_usd"].a == pytest.approx(inference_cost_usd(0.768, 0.5))
    assert rows["eq"].b == pytest.approx(efficiency_quotient(0.768, 0.8))
    assert "perplexity" not in rows  # no quality measured: no quality rows


def test_price_changes_cost_and_eq_only():
    cheap, dear = comparison(), comparison().with_price(7.68)
    before = {r.key: r for r in cheap.rows()}
    after = {r.key: r for r in dear.rows()}
    assert after["cost_usd"].a == pytest.approx(before["cost_usd"].a * 10)
    assert after["eq"].a == pytest.approx(before["eq"].a / 10)
    assert after["gen_tps"] == before["gen_tps"]
    assert comparison().with_price(0).rows()[-1].a is None  # EQ is undefined on a free machine


def test_quality_rows_appear_when_measured():
    measured = comparison().with_quality(
        QualityFigures(20.0, 0.2, 0.75, "default:Q8_0"), QualityFigures(16.0, 0.0, 1.0, "default:Q8_0")
    )
    rows = {row.key: row for row in measured.rows()}
    assert rows["perplexity"].ratio == pytest.approx(0.8)
    assert rows["top1_agreement"].a == pytest.approx(75.0) and rows["top1_agreement"].unit == "%"
    assert rows["kld_mean"].ratio == 0.0


def test_ratio_and_formatting():
    assert ratio(2.0, 3.0) == 1.5 and ratio(0.0, 1.0) is None and ratio(None, 1.0) is None
    assert ratio(1.0, float("nan")) is None
    assert format_bytes(88_158_592) == "84.1 MiB" and format_bytes(247_463_936) == "236 MiB"
    assert format_value(0.061, "s") == "61 ms" and format_value(2.5, "s") == "2.50 s"
    assert format_value(168.24, "tok/s") == "168.2 tok/s" and format_value(None, "s") == "—"
    assert format_value(22940.3, "") == "22,940"


def test_rate_series_buckets_tokens_per_second():
    series = rate_series(A.token_times, bucket_s=0.1)
    # the first batch (t=0) only starts the clock; 16 tokens in each of the next buckets
    assert series[:3] == [pytest.approx(0.0), pytest.approx(160.0), pytest.approx(160.0)]
    assert sum(series) * 0.1 == pytest.approx(63)
    assert rate_series(()) == []


def test_export_writes_markdown_and_json_atomically():
    race = comparison(mode="race").with_quality(QualityFigures(20.0, 0.2, 0.75, "default:Q8_0"), None)
    paths = export_comparison(race)
    assert paths.markdown.parent == comparisons_directory() == paths.json.parent
    markdown = paths.markdown.read_text()
    assert "# Comparison: default:Q2_K (A) vs default:Q8_0 (B)" in markdown
    assert RACE_NOTE in markdown
    assert "| Generation | 160.0 tok/s | 120.0 tok/s | 0.75× |" in markdown
    assert "> Answer A.\n>\n> Second line." in markdown
    data = json.loads(paths.json.read_text())
    assert data["mode"] == "race" and data["note"] == RACE_NOTE
    assert data["a"]["token_times"][1] == [0.1, 16]
    assert data["quality"]["b"] is None
    row = next(r for r in data["rows"] if r["key"] == "gen_tps")
    assert row == {
        "key": "gen_tps",
        "name": "Generation",
        "unit": "tok/s",
        "a": 160.0,
        "b": 120.0,
        "ratio_b_over_a": 0.75,
        "better": "higher",
    }
    assert SideResult.from_json(data["a"]) == A
    assert to_markdown(race) == markdown
    assert not [p for p in paths.markdown.parent.iterdir() if p.name.startswith(".")]
