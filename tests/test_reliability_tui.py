"""Opening every damaged GGUF variant in the TUI keeps the app up: the ones that must be refused
show the validator's error in the open dialog, the ones that may load are added to the models.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeapp.tui.screens.open_file import OpenFileScreen
from tests.gguf_damage import DamagedVariant, build_variants
from tests.tui.shell_support import (
    SIZE,
    device,
    estimate_for,
    make_app,
    private_hf_cache,  # noqa: F401 - autouse fixture
    settle,
    wait_until,
)

pytestmark = pytest.mark.slow  # opens all 178 variants through the real dialog


@pytest.fixture
def variants(tmp_path: Path, bundled_path: Path) -> Iterator[list[DamagedVariant]]:
    out_dir = tmp_path / "damaged"
    yield build_variants(bundled_path, out_dir)
    shutil.rmtree(out_dir)


def _status(app) -> str:  # type: ignore[no-untyped-def]
    """Return the open dialog's status line ("" once the dialog has closed)."""
    if not isinstance(app.screen, OpenFileScreen):
        return ""
    return str(app.screen.query_one("#open-status").content)


async def test_opening_each_damaged_file_keeps_the_tui_up(
    variants: list[DamagedVariant], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(estimate_for(monkeypatch, device("rpi5-8gb")), start_mode="models")
    refused, added, wrong = 0, 0, []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for variant in variants:
            if not isinstance(app.screen, OpenFileScreen):
                await pilot.press("o")
                await wait_until(pilot, lambda: isinstance(app.screen, OpenFileScreen), "the open dialog")
            app.screen.query_one("#open-path").value = str(variant.path)
            await pilot.press("enter")
            # Every file name is unique, so the status names this file only once it is answered.
            name = variant.path.name
            await wait_until(
                pilot,
                lambda name=name: not isinstance(app.screen, OpenFileScreen) or name in _status(app),
                f"an answer about {variant.name}",
            )
            assert app.is_running, variant.name
            if isinstance(app.screen, OpenFileScreen):
                message = _status(app)
                refused += 1
                if variant.path.name not in message or not (
                    "not a usable GGUF file" in message or "is a folder" in message
                ):
                    wrong.append(f"{variant.name}: {message}")
            else:
                added += 1
                if variant.must_reject:
                    wrong.append(f"{variant.name}: accepted")
                key = str(variant.path.resolve())
                await wait_until(
                    pilot, lambda key=key: app.state.selected_ref == key, f"{variant.name} selected"
                )
        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running and not isinstance(app.screen, OpenFileScreen)
    print(
        f"\nTUI: opened {len(variants)} damaged files: {refused} refused with the validator's message, {added} added"
    )
    assert wrong == []
    assert refused >= sum(v.must_reject for v in variants) and added > 0
