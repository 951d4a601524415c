"""Compare flows on the real bundled model: default:Q2_K vs default:Q8_0, fair and race, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeapp.settings import Settings
from edgeapp.tui.screens.compare import CompareScreen
from edgeapp.tui.widgets.compare.compare_controls import race_threads
from edgeapp.tui.widgets.compare.compare_pane import ComparePane
from edgeapp.tui.widgets.compare.summary_table import SummaryTable
from tests.tui.shell_support import SIZE, make_app, wait_until

pytestmark = pytest.mark.slow

COMPARE_SETTINGS = Settings(max_tokens=16, temperature=0.0)
LIMIT_S = 300.0  # a hang guard only: two shared cores can be very busy


async def finished(pilot, screen: CompareScreen) -> None:
    """Wait for both runs to end; fail at once if either failed."""
    await wait_until(pilot, lambda: screen.comparison is not None or not screen.running, "both runs", LIMIT_S)
    await pilot.pause()
    assert screen.comparison is not None, [n.message for n in screen.app._notifications]


def compare_screen(app) -> CompareScreen:
    assert isinstance(app.screen, CompareScreen)
    return app.screen


async def test_fair_compare_fills_both_panes_and_the_summary_with_ratios():
    app = make_app(settings=COMPARE_SETTINGS, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        assert screen.query_one("#compare-a").value == "default:Q2_K"
        assert screen.query_one("#compare-b").value == "default:Q8_0"
        await pilot.press("ctrl+r")
        await finished(pilot, screen)
        a, b = (
            screen.query_one("#compare-pane-a", ComparePane),
            screen.query_one("#compare-pane-b", ComparePane),
        )
        assert a.text.strip() and b.text.strip()
        assert a.text == screen.comparison.a.text and b.text == screen.comparison.b.text
        assert screen.comparison.a.label == "default:Q2_K" and screen.comparison.b.label == "default:Q8_0"
        assert screen.comparison.a.size_bytes < screen.comparison.b.size_bytes
        table = screen.query_one(SummaryTable)
        assert table.row_count >= 11
        size_row = table.get_row("size_bytes")
        assert "MiB" in str(size_row[1]) and "MiB" in str(size_row[2])
        ratio = screen.comparison.b.size_bytes / screen.comparison.a.size_bytes
        assert str(size_row[3]) == f"{ratio:.2f}×"
        assert "tok/s" in str(table.get_row("gen_tps")[1])

        cost_before = str(table.get_row("cost_usd")[1])
        price = screen.query_one("#compare-price")
        price.value = "7.68"
        await pilot.pause()
        assert screen.comparison.price_per_hour == 7.68
        assert str(table.get_row("cost_usd")[1]) != cost_before

        await pilot.press("ctrl+s")
        await pilot.pause()
        paths = screen.exported
        assert paths.markdown.is_file() and paths.json.is_file()
        assert (
            paths.markdown.parent == Path(str(paths.markdown.parent))
            and paths.markdown.parent.name == "comparisons"
        )
        data = json.loads(paths.json.read_text())
        assert data["a"]["label"] == "default:Q2_K" and data["b"]["label"] == "default:Q8_0"
        assert data["price_per_hour"] == 7.68
        assert "| File size |" in paths.markdown.read_text()


async def test_race_mode_runs_both_with_half_the_cores_and_says_so():
    app = make_app(settings=COMPARE_SETTINGS, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        screen.query_one("#compare-mode").value = "race"
        await pilot.pause()
        assert "RACE" in str(screen.query_one("#compare-note").render())
        await pilot.click("#compare-run")
        await finished(pilot, screen)
        threads = race_threads(app.state.hardware.cpu.physical_cores)
        assert screen.comparison.mode == "race"
        assert screen.comparison.a.threads == threads and screen.comparison.b.threads == threads


async def test_quality_is_measured_on_request_and_then_found_in_the_cache():
    app = make_app(settings=COMPARE_SETTINGS, start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await pilot.press("ctrl+r")
        await finished(pilot, screen)
        assert screen.comparison.quality_a is None
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: screen.comparison.quality_a is not None, "quality", LIMIT_S)
        qa, qb = screen.comparison.quality_a, screen.comparison.quality_b
        assert qa.perplexity > 1 and qb.perplexity > 1
        assert qb.reference == "default:Q8_0" and qb.kld_mean == 0.0 and qa.kld_mean > 0
        assert screen.query_one(SummaryTable).get_row("perplexity")
        # A second run of the same pair finds the figures without measuring again.
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: screen.comparison is not None and screen.comparison.quality_a is not None,
            "quality from the cache",
            LIMIT_S,
        )
        assert screen.comparison.quality_a.perplexity == qa.perplexity


async def test_escape_during_a_fair_run_stops_it_and_b_never_starts():
    app = make_app(settings=Settings(max_tokens=2000, temperature=0.0), start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        screen = compare_screen(app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.running, "A to start", LIMIT_S)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.running, "A to stop", LIMIT_S)
        await pilot.pause(0.5)
        assert not screen.running and screen.comparison is None
        assert screen.results.get("b") is None and screen.query_one("#compare-pane-b", ComparePane).text == ""
        run_a = screen.results.get("a")
        assert run_a is None or run_a.stats.stop_reason == "cancelled"
