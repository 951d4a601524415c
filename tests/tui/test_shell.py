"""The shell: modes by key and by click, help built from the real bindings, the command palette,
themes saved in settings, quitting, and the llama.cpp probe after the first frame."""

from __future__ import annotations

from edgeapp.settings import load_settings
from edgeapp.tui.app import SCREENS, screen_class
from edgeapp.tui.screens.help import HelpScreen
from edgeapp.tui.widgets.app_header import AppHeader
from tests.tui.shell_support import SIZE, make_app, private_hf_cache, settle, wait_until  # noqa: F401 - autouse fixture


def _text(widget) -> str:
    return str(widget.render())


async def test_starts_on_hardware_and_switches_modes_by_key():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.current_mode == "hardware"
        # Letters where no text box has focus; F-keys work everywhere (chat and compare focus an input).
        # Chat and compare start an engine when shown: only the tab test visits them.
        for key, mode in (
            ("m", "models"),
            ("d", "downloads"),
            ("h", "hardware"),
            ("f4", "downloads"),
            ("f3", "models"),
            ("f2", "hardware"),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode, key
            assert isinstance(app.screen, screen_class(mode))


async def test_header_tabs_switch_modes_by_click():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for mode in ("models", "downloads", "chat", "compare", "hardware"):
            await pilot.click(f"#tab-{mode}")
            await pilot.pause()
            assert app.current_mode == mode
        active = [tab.id for tab in app.screen.query(".mode-tab.-active")]
        assert active == ["tab-hardware"]


async def test_footer_keys_switch_modes_by_click():
    from textual.widgets._footer import FooterKey

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for start, mode in (("hardware", "models"), ("models", "downloads"), ("downloads", "hardware")):
            await app.switch_mode(start)
            await pilot.pause()
            key = next(k for k in app.screen.query(FooterKey) if k.action == f"switch_mode({mode!r})")
            await pilot.click(key)
            await pilot.pause()
            assert app.current_mode == mode


async def test_header_shows_model_and_hardware_summary():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        header = app.screen.query_one(AppHeader)
        assert "default" in _text(header.query_one("#header-model"))
        assert "Raspberry Pi 5 Model B Rev 1.0" in _text(header.query_one("#header-hardware"))
        app.state.select_model("default:Q8_0")
        await pilot.pause()
        assert "default:Q8_0" in _text(header.query_one("#header-model"))


async def test_help_lists_every_binding_of_the_app_and_each_screen():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = {title: dict(map(reversed, section)) for title, section in help_screen.sections()}
        listed = {text for section in rows.values() for text in section}
        for binding in app._bindings.key_to_bindings.values():
            for b in binding:
                if not b.system:
                    assert (b.description or b.tooltip) in listed, b
        for mode in SCREENS:
            for bindings in screen_class(mode)._merged_bindings.key_to_bindings.values():
                for b in bindings:
                    if b.description and not b.system:
                        assert b.description in listed, (mode, b)
        assert "f1 / ?" in rows["Everywhere"].values()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_goes_to_a_screen_and_selects_a_model():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Downloads")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "downloads"

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Select model: default:Q8_0")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.selected_ref == "default:Q8_0"
        assert load_settings().model_ref == "default:Q8_0"


async def test_palette_lists_screen_actions_and_runs_them_in_their_mode():
    from textual.command import CommandList

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Start comparison")
        await pilot.pause(0.5)
        shown = [str(option.prompt) for option in app.screen.query_one(CommandList).options]
        assert any("Start comparison" in text for text in shown), shown
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Models: Open .gguf")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "models"
        assert type(app.screen).__name__ == "OpenFileScreen"


async def test_theme_change_is_saved_and_used_next_time():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: nord")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "nord"
    assert load_settings().theme == "nord"
    again = make_app(settings=load_settings())
    async with again.run_test(size=SIZE):
        assert again.theme == "nord"


async def test_q_quits_only_when_no_text_box_has_focus():
    app = make_app(start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "q")
        await pilot.pause()
        assert app.is_running and app.screen.query_one("#models-filter").value == "q"
        await pilot.press("escape", "q")
        await pilot.pause()
    assert app.return_code == 0


async def test_llama_cpp_facts_arrive_after_the_first_frame():
    app = make_app(backend=None)
    async with app.run_test(size=SIZE) as pilot:
        text = _text(app.screen.query_one("#hw-llama-text"))
        assert "asking llama.cpp" in text  # the first frame did not wait for the probe
        await wait_until(pilot, lambda: app.state.backend is not None, "the llama.cpp probe")
        await pilot.pause()
        text = _text(app.screen.query_one("#hw-llama-text"))
        assert "asking llama.cpp" not in text
        assert ("GPU offload supported" in text) or ("CPU only" in text) or ("not usable" in text)


def test_snapshot_help(snap_compare):
    """Changes whenever a screen's bindings change: that is the help doing its job; review and update."""
    assert snap_compare(make_app(), press=["f1"], terminal_size=SIZE, run_before=settle)


def test_snapshot_open_file_dialog_with_an_error(snap_compare):
    async def missing_file(pilot) -> None:
        await settle(pilot)
        await pilot.app.run_action("open_model_file")
        await pilot.pause()
        pilot.app.screen.query_one("#open-path").value = "/nonexistent/model.gguf"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "no such file" in _text(pilot.app.screen.query_one("#open-status")), "the error"
        )

    assert snap_compare(make_app(start_mode="models"), terminal_size=SIZE, run_before=missing_file)


async def test_broken_user_catalog_is_reported_and_the_built_in_one_used():
    import os
    from pathlib import Path

    config = Path(os.environ["EDGEAPP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "models.toml").write_text("version = 1\n[models.mine]\nname = 3\n", encoding="utf-8")
    app = make_app(start_mode="models")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        warning = next(n for n in app._notifications if n.severity == "warning")
        assert "models.toml" in warning.message and "[models.mine] name" in warning.message
        assert "qwen2.5-0.5b-instruct" in app.screen.query_one("#models-table").rows_by_key
