"""The compare screen's controls: A and B, max tokens, fair or race, the prompt and its presets.

`read_plan()` turns what is typed into a `ComparePlan` (or a ValueError/UsageError saying what to
fix); the Run button and Enter in the prompt post `RunRequested`, the Stop button `StopRequested`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from edgeapp.bench.presets import GRANDVILLE, SHORT
from edgeapp.quants import QUANTS
from edgeapp.settings import Settings

PRESETS: dict[str, tuple[str, str]] = {
    "short": ("Short: why quants are faster", SHORT),
    "grandville": ("Grandville detective (seed 000)", GRANDVILLE),
    "haiku": ("Haiku", "Write a haiku about a small computer that learned to talk."),
    "code": (
        "Python function",
        "Write a Python function that returns the n-th Fibonacci number, with a docstring.",
    ),
}
FAIR_NOTE = "FAIR: A runs, then B, one engine at a time with every core; speeds are comparable."
RACE_NOTE = "RACE: both run at once, cores split — speeds are not comparable to fair runs."


def race_threads(physical_cores: int) -> int:
    """Return the threads each side gets in race mode: half the physical cores, at least one."""
    return max(1, physical_cores // 2)


def default_refs(selected_ref: str, settings: Settings) -> tuple[str, str]:
    """Return the default A and B: Q2_K and Q8_0 of the selected catalog model, else the settings'."""
    from edgeapp.errors import EdgeappError
    from edgeapp.refs import looks_like_path, split_ref

    if selected_ref and not looks_like_path(selected_ref):
        try:
            model_id, _ = split_ref(selected_ref)
        except EdgeappError:
            model_id = "default"
        if model_id.lower() != "default":
            return f"{model_id}:Q2_K", f"{model_id}:Q8_0"
    return settings.compare_a, settings.compare_b


@dataclass(frozen=True)
class ComparePlan:
    """What to run: both REFs, the shared prompt and settings, the mode and threads per side."""

    a: str
    b: str
    mode: Literal["fair", "race"]
    prompt: str
    settings: Settings
    threads: int | None  # None: the settings' threads (all physical cores by default)

    def ref(self, side: str) -> str:
        return self.a if side == "a" else self.b


class CompareControls(Vertical):
    """Two rows of inputs and the fair/race note."""

    DEFAULT_CSS = """
    CompareControls { height: auto; }
    CompareControls > Horizontal { height: 1; margin: 1 1 0 1; }
    CompareControls Label { width: auto; padding: 0 1 0 0; }
    CompareControls #compare-a, CompareControls #compare-b { width: 18; margin-right: 2; }
    CompareControls #compare-max-tokens { width: 6; margin-right: 2; }
    CompareControls #compare-mode { width: 26; margin-right: 1; }
    CompareControls #compare-preset { width: 36; margin-right: 1; }
    CompareControls #compare-prompt { width: 1fr; }
    CompareControls Button { min-width: 8; margin-left: 1; }
    CompareControls #compare-note { height: 1; margin: 1 1 0 1; color: $text-muted; }
    CompareControls #compare-note.-race { color: $error; text-style: bold; }
    """

    class RunRequested(Message):
        """The user asked to run the comparison."""

    class StopRequested(Message):
        """The user asked to stop it."""

    def __init__(self, ref_a: str, ref_b: str, max_tokens: int) -> None:
        super().__init__(id="compare-controls-box")
        self._initial = (ref_a, ref_b, max_tokens)

    def compose(self) -> ComposeResult:
        ref_a, ref_b, max_tokens = self._initial
        suggestions = SuggestFromList([f"default:{q}" for q in QUANTS], case_sensitive=False)
        with Horizontal(id="compare-controls"):
            yield Label("A")
            yield Input(ref_a, id="compare-a", compact=True, suggester=suggestions)
            yield Label("B")
            yield Input(ref_b, id="compare-b", compact=True, suggester=suggestions)
            yield Label("Max tokens")
            yield Input(str(max_tokens), id="compare-max-tokens", compact=True, type="integer")
            modes = [("Fair: A, then B", "fair"), ("Race: both at once", "race")]
            yield Select(modes, value="fair", allow_blank=False, id="compare-mode", compact=True)
            yield Button("Run", id="compare-run", variant="primary", compact=True)
            yield Button("Stop", id="compare-stop", compact=True)
        with Horizontal(id="compare-prompt-row"):
            yield Label("Prompt")
            presets = [(label, key) for key, (label, _) in PRESETS.items()]
            yield Select(presets, value="short", allow_blank=False, id="compare-preset", compact=True)
            yield Input(PRESETS["short"][1], id="compare-prompt", compact=True)
        yield Static(FAIR_NOTE, id="compare-note")

    @on(Select.Changed, "#compare-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        note = self.query_one("#compare-note", Static)
        note.update(RACE_NOTE if event.value == "race" else FAIR_NOTE)
        note.set_class(event.value == "race", "-race")

    @on(Select.Changed, "#compare-preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        self.query_one("#compare-prompt", Input).value = PRESETS[str(event.value)][1]

    @on(Button.Pressed, "#compare-run")
    @on(Input.Submitted, "#compare-prompt")
    def _run(self, event: Message) -> None:
        event.stop()
        self.post_message(self.RunRequested())

    @on(Button.Pressed, "#compare-stop")
    def _stop(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.StopRequested())

    def read_plan(self, settings: Settings, physical_cores: int) -> ComparePlan:
        """Return the plan typed in; ValueError or UsageError says what to fix."""
        from edgeapp.refs import looks_like_path, split_ref

        refs: dict[str, Any] = {}
        for side in ("a", "b"):
            ref = self.query_one(f"#compare-{side}", Input).value.strip()
            if not ref:
                raise ValueError(f"{side.upper()} needs a model, e.g. default:Q8_0")
            if not looks_like_path(ref):
                split_ref(ref)  # UsageError for an unknown quant
            refs[side] = ref
        max_tokens = int(self.query_one("#compare-max-tokens", Input).value or "0")
        if max_tokens < 1:
            raise ValueError("max tokens must be 1 or more")
        prompt = self.query_one("#compare-prompt", Input).value.strip()
        if not prompt:
            raise ValueError("type a prompt, or choose a preset")
        mode: Literal["fair", "race"] = (
            "race" if self.query_one("#compare-mode", Select).value == "race" else "fair"
        )
        return ComparePlan(
            a=refs["a"],
            b=refs["b"],
            mode=mode,
            prompt=prompt,
            settings=replace(settings, max_tokens=max_tokens),
            threads=race_threads(physical_cores) if mode == "race" else settings.threads,
        )
