"""Snapshots of the compare screen at 120x40 with injected results (no engine runs)."""

from __future__ import annotations

from dataclasses import replace

from edgeapp.comparison import Comparison, QualityFigures, SideResult
from edgeapp.settings import Settings
from edgeapp.tui.widgets.compare.compare_pane import ComparePane
from edgeapp.tui.widgets.stats.stats_view import StatsView
from tests.tui.shell_support import SIZE, make_app

ANSWER_A = "Quantized models use **fewer bits** per weight, so they read less memory per token.\n\nThat makes them faster."
ANSWER_B = (
    "Because each weight takes fewer bytes, the processor moves less data and finishes each token sooner."
)


def timeline(rate_tps: float, tokens: int, batch: int = 3) -> tuple[tuple[float, int], ...]:
    """Return an even token timeline at `rate_tps` with a slow start."""
    points, t = [], 0.0
    for index in range(0, tokens, batch):
        points.append((round(t, 4), batch))
        t += batch / (rate_tps * (0.6 if index < 9 else 1.0))
    return tuple(points)


SIDE_A = SideResult(
    label="default:Q2_K",
    ref="default:Q2_K",
    path="/models/SmolLM2-135M-Instruct.Q2_K.gguf",
    size_bytes=88_158_592,
    load_s=0.312,
    ttft_s=0.061,
    prompt_tps=912.4,
    gen_tps=168.2,
    gen_tokens=64,
    prompt_tokens=41,
    total_s=0.452,
    peak_rss_bytes=190_840_832,
    peak_vram_bytes=None,
    threads=4,
    gpu_layers=0,
    n_layers=30,
    stop_reason="length",
    text=ANSWER_A,
    token_times=timeline(168.2, 64),
)
SIDE_B = replace(
    SIDE_A,
    label="default:Q8_0",
    ref="default:Q8_0",
    path="/models/SmolLM2-135M-Instruct.Q8_0.gguf",
    size_bytes=144_811_520,
    load_s=0.405,
    ttft_s=0.074,
    prompt_tps=801.9,
    gen_tps=131.6,
    total_s=0.561,
    peak_rss_bytes=247_463_936,
    text=ANSWER_B,
    token_times=timeline(131.6, 64),
)
COMPARISON = Comparison(
    prompt="Explain in three sentences why quantized language models run faster on small computers.",
    mode="fair",
    settings={"n_ctx": 2048, "max_tokens": 64},
    a=SIDE_A,
    b=SIDE_B,
    price_per_hour=0.768,
    quality_a=QualityFigures(18.92, 0.1834, 0.7712, "default:Q8_0", "python-reference-topics"),
    quality_b=QualityFigures(16.41, 0.0, 1.0, "default:Q8_0", "python-reference-topics"),
    machine="Raspberry Pi 5",
    created_at="2025-01-01T12:00:00+00:00",
)


def _final_view(side: SideResult) -> StatsView:
    return StatsView(
        gen_tps=side.gen_tps,
        ttft_s=side.ttft_s,
        prompt_tps=side.prompt_tps,
        tokens=side.gen_tokens,
        rates=(120.0, 150.0, side.gen_tps, side.gen_tps),
        rss_bytes=side.peak_rss_bytes,
        final=True,
    )


async def _fill_panes(pilot, comparison: Comparison) -> None:
    screen = pilot.app.screen
    for key, side in (("a", comparison.a), ("b", comparison.b)):
        pane = screen.query_one(f"#compare-pane-{key}", ComparePane)
        pane.reset(side.label, _final_view(side))
        pane.show_text(side.text)
        pane.set_status("finished (max tokens) · peak figures shown", running=False)


def test_snapshot_compare_summary(snap_compare):
    async def fill(pilot) -> None:
        await _fill_panes(pilot, COMPARISON)
        pilot.app.screen.show_comparison(COMPARISON)
        await pilot.pause()

    app = make_app(settings=Settings(max_tokens=64), start_mode="compare")
    assert snap_compare(app, terminal_size=SIZE, run_before=fill)


def test_snapshot_compare_race_mode_before_a_run(snap_compare):
    async def race(pilot) -> None:
        pilot.app.screen.query_one("#compare-mode").value = "race"
        await pilot.pause()

    app = make_app(settings=Settings(max_tokens=64), start_mode="compare")
    assert snap_compare(app, terminal_size=SIZE, run_before=race)
