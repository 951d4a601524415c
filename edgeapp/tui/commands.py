"""The command palette's edgeapp entries: every screen, every screen's bound actions, models, themes.

Screen actions are read from each mode's bindings, so a binding a screen adds is in the palette too.
Model entries (select, download) appear when the user types; the empty palette lists the screens
and the main actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: what it says, the help line under it, and the app action it runs."""

    title: str
    help: str
    action: str  # an app action string, e.g. "switch_mode('models')"
    discover: bool = True  # listed before the user types anything


def screen_commands() -> Iterator[PaletteCommand]:
    """Yield "go to" entries for each mode and one entry per action its screen binds."""
    from edgeapp.tui.app import SCREENS, screen_class

    base = {(b.key, b.action) for b in _bindings(Screen)}
    for mode, (title, _) in SCREENS.items():
        yield PaletteCommand(f"Go to {title}", f"Show the {title.lower()} screen", f"switch_mode({mode!r})")
        seen: set[str] = set()
        for binding in _bindings(screen_class(mode)):
            if (binding.key, binding.action) in base or binding.system or binding.action in seen:
                continue
            seen.add(binding.action)
            what = binding.description or binding.tooltip or binding.action
            yield PaletteCommand(
                f"{title}: {what}",
                binding.tooltip or f"{what} on the {title.lower()} screen",
                f"run_in_mode({mode!r}, {binding.action!r})",
            )


def _bindings(screen: type[Screen[Any]]) -> list[Binding]:
    merged = screen._merged_bindings
    return [b for bs in merged.key_to_bindings.values() for b in bs] if merged is not None else []


# Plain names for screen actions people look for by what they do; listed only while the screen has them.
ACTION_ALIASES: tuple[tuple[str, str, str, str], ...] = (
    ("New chat", "Start a new conversation on the chat screen", "chat", "new_chat"),
    ("Start comparison", "Run A and B on the compare screen", "compare", "run"),
)


def app_commands() -> Iterator[PaletteCommand]:
    """Yield the actions that belong to no single screen, and the plain-named screen actions."""
    from edgeapp.tui.app import screen_class

    for title, help_text, mode, action in ACTION_ALIASES:
        if hasattr(screen_class(mode), f"action_{action}"):
            yield PaletteCommand(title, help_text, f"run_in_mode({mode!r}, {action!r})")
    yield PaletteCommand(
        "Open a local .gguf file…", "Check a GGUF file's header and add it to the models", "open_model_file"
    )
    yield PaletteCommand("Download a model…", "Pick a catalog model and quant to download", "download('')")
    yield PaletteCommand("Keys and help", "List every key binding", "help")
    yield PaletteCommand("Change theme…", "Pick a colour theme (saved in settings)", "change_theme")


def model_commands(state: Any) -> Iterator[PaletteCommand]:
    """Yield select/download entries for the bundled model, the catalog and opened local files."""
    from edgeapp.quants import QUANTS

    yield PaletteCommand(
        "Select model: default", "The bundled SmolLM2-135M-Instruct (Q4_1)", "select_model('default')", False
    )
    for quant in QUANTS:
        ref = f"default:{quant}"
        yield PaletteCommand(
            f"Select model: {ref}",
            f"The bundled model as {quant} (derived from Q4_1)",
            f"select_model({ref!r})",
            False,
        )
    for model in state.catalog:
        yield PaletteCommand(f"Select model: {model.id}", model.name, f"select_model({model.id!r})", False)
        for quant in model.quants:
            ref = f"{model.id}:{quant}"
            yield PaletteCommand(f"Select model: {ref}", model.name, f"select_model({ref!r})", False)
            yield PaletteCommand(
                f"Download {ref}", f"{model.repo} · {model.files[quant]}", f"download({ref!r})", False
            )
    for path in state.local_models:
        yield PaletteCommand(f"Select model: {path.name}", str(path), f"select_model({str(path)!r})", False)


def theme_commands(app: Any) -> Iterator[PaletteCommand]:
    """Yield one entry per available theme."""
    for name in sorted(app.available_themes):
        yield PaletteCommand(
            f"Theme: {name}", "Switch to this theme (saved in settings)", f"set_theme({name!r})", False
        )


class EdgeCommands(Provider):
    """Command palette provider for edgeapp's screens, actions, models and themes."""

    _commands_cache: list[PaletteCommand] | None = None

    async def startup(self) -> None:
        # Built once per opening of the palette, not once per keystroke.
        self._commands_cache = self._build()

    def _build(self) -> list[PaletteCommand]:
        app: Any = self.app
        return [
            *screen_commands(),
            *app_commands(),
            *model_commands(app.state),
            *theme_commands(app),
        ]

    def _commands(self) -> list[PaletteCommand]:
        if self._commands_cache is None:
            self._commands_cache = self._build()
        return self._commands_cache

    def _callback(self, command: PaletteCommand) -> Callable[[], Any]:
        return partial(self.app.run_action, command.action)

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discover:
                yield DiscoveryHit(command.title, self._callback(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), self._callback(command), help=command.help)
