"""The models screen: the catalog with the picker's fit badges, the filter, selection, opening a
local .gguf (a damaged one included), and the estimate pane following context and GPU layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeapp.bundled import bundled_model_path
from edgeapp.tui.screens.open_file import OpenFileScreen
from edgeapp.tui.widgets.estimate_pane import EstimatePane, breakdown
from edgeapp.tui.widgets.model_table import ModelTable
from tests.tui.shell_support import (
    CPU_BACKEND,
    CUDA_BACKEND,
    SIZE,
    device,
    estimate_for,
    laptop_with_nvidia,
    make_app,
    private_hf_cache,  # noqa: F401 - autouse fixture
    settle,
    wait_until,
)

DEVICES = {
    "rpi5": (lambda: device("rpi5-8gb"), CPU_BACKEND),
    "laptop_nvidia": (laptop_with_nvidia, CUDA_BACKEND),
}


@pytest.mark.parametrize("name", DEVICES)
def test_snapshot(snap_compare, monkeypatch, name):
    hardware, backend = DEVICES[name]
    hw = estimate_for(monkeypatch, hardware())
    assert snap_compare(
        make_app(hw, backend=backend, start_mode="models"), terminal_size=SIZE, run_before=settle
    )


def _table(app) -> ModelTable:
    return app.screen.query_one(ModelTable)


def _pane(app) -> EstimatePane:
    return app.screen.query_one(EstimatePane)


async def test_every_model_has_a_badge_for_each_quant_and_one_recommendation(monkeypatch):
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = _table(app)
        keys = list(table.rows_by_key)
        assert (
            keys[0] == "default"
            and "qwen2.5-0.5b-instruct" in keys
            and len(keys) == 1 + len(app.state.catalog)
        )
        for row in table.rows_by_key.values():
            assert row.error is None, row
            assert sum(cell.recommended for cell in row.cells.values()) == 1, row.key
            assert all(c.badge in ("GPU", "CPU", "too large") or "/" in c.badge for c in row.cells.values())
        default = table.rows_by_key["default"]
        assert default.cells["other"].quant == "Q4_1" and default.cells["other"].available
        assert all(c.derived and c.available for q, c in default.cells.items() if q != "other")
        mistral = table.rows_by_key["mistral-7b-instruct-v0.2"]  # 7B on an 8 GB Pi: Q8_0 cannot fit
        assert mistral.cells["Q8_0"].badge == "too large" and mistral.cells["Q4_K_M"].recommended


async def test_filter_narrows_the_table_with_the_catalog_search(monkeypatch):
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"qwen 1.5b")
        await pilot.pause()
        assert list(_table(app).rows_by_key) == ["qwen2.5-1.5b-instruct"]
        await pilot.press(*" nothing-like-this")
        await pilot.pause()
        assert _table(app).row_count == 0
        assert "no model matches" in str(app.screen.query_one("#models-legend").render())
        filter_box = app.screen.query_one("#models-filter")
        filter_box.value = "bundled"
        await pilot.pause()
        assert list(_table(app).rows_by_key) == ["default"]


async def test_clicking_a_quant_twice_selects_it(monkeypatch):
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = _table(app)
        # Row 2 (SmolLM2 360M), column Q3_K_M: rows are two lines under a one-line header.
        region = table.region
        x = region.x + sum(c.get_render_width(table) for c in table.ordered_columns[:3]) + 2
        y = region.y + 1 + 2 * 2
        await pilot.click(offset=(x, y))
        await pilot.pause()
        assert table.current_keys() == ("smollm2-360m-instruct", "Q3_K_M")
        await pilot.click(offset=(x, y))
        await pilot.pause()
        assert app.state.selected_ref == "smollm2-360m-instruct:Q3_K_M"


async def test_corrupt_gguf_shows_an_error_and_a_good_one_is_added(tmp_path: Path, monkeypatch):
    corrupt = tmp_path / "damaged.gguf"
    data = bytearray(bundled_model_path().read_bytes()[: 256 * 1024])
    data[8:16] = (2**40).to_bytes(8, "little")  # tensor count no file could hold
    corrupt.write_bytes(bytes(data))
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OpenFileScreen)
        app.screen.query_one("#open-path").value = str(corrupt)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(n.severity == "error" for n in app._notifications), "the error")
        error = next(n for n in app._notifications if n.severity == "error")
        assert "is not a usable GGUF file" in error.message and str(corrupt) in error.message
        assert isinstance(app.screen, OpenFileScreen) and app.is_running  # still asking, app alive
        app.screen.query_one("#open-path").value = str(bundled_model_path())
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, OpenFileScreen), "the dialog to close")
        await settle(pilot)
        key = str(bundled_model_path().resolve())
        assert app.state.selected_ref == key
        row = _table(app).rows_by_key[key]
        assert row.kind == "path" and row.cells["other"].quant == "Q4_1"
        assert _table(app).current_keys()[0] == key


async def test_estimate_pane_follows_context_size_and_gpu_layers(monkeypatch):
    app = make_app(estimate_for(monkeypatch, laptop_with_nvidia()), backend=CUDA_BACKEND, start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = _pane(app)
        first = pane.estimate
        assert first is not None and first.n_ctx == 2048 and first.exact  # default: the bundled file's header
        assert "exact (GGUF header)" in str(pane.query_one("#est-title").render())
        await pilot.press("right_square_bracket")
        await settle(pilot)
        doubled = pane.estimate
        assert doubled.n_ctx == 4096 and pane.query_one("#est-ctx").value == "4096"
        assert doubled.kv_cache_bytes == 2 * first.kv_cache_bytes
        assert doubled.gpu_layers == first.gpu_layers == first.n_layers + 1  # all of them fit
        await pilot.press("minus", "minus")
        await settle(pilot)
        fewer = pane.estimate
        assert fewer.gpu_layers == first.n_layers - 1 and pane.query_one("#est-gpu").value == str(
            first.n_layers - 1
        )
        assert fewer.vram_bytes < doubled.vram_bytes and fewer.ram_bytes > doubled.ram_bytes
        parts = breakdown(fewer)
        assert (
            sum(r[2] for r in parts.rows) == fewer.ram_bytes
            and sum(r[3] for r in parts.rows) == fewer.vram_bytes
        )
        pane.query_one("#est-ctx").value = "1024"
        await settle(pilot)
        assert pane.estimate.n_ctx == 1024 and pane.estimate.kv_cache_bytes == first.kv_cache_bytes // 2


async def test_catalog_quant_not_on_disk_is_estimated_from_catalog_facts(monkeypatch):
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = _table(app)
        table.move_cursor(
            row=table.get_row_index("llama-3.2-1b-instruct"), column=table.get_column_index("Q8_0")
        )
        await settle(pilot)
        pane = _pane(app)
        assert pane.estimate.model and not pane.estimate.exact
        assert "approximate (catalog facts)" in str(pane.query_one("#est-title").render())
