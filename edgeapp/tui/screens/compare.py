"""The compare screen: two models, the same prompt, seed and settings, side by side.

"Fair" runs A, then B, each in its own engine process with the whole machine. "Race" runs both at
once with the physical cores split between them, which shows how they behave under contention but
gives speeds that cannot be compared with fair runs, so the screen says so in red. When both have
finished, the summary table shows every figure with B/A, cost and EQ at an editable price, quality
from the measurement cache (or measured on request), and a plot of tokens/s over time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from edgeapp.comparison import Comparison, ExportPaths, SideResult, export_comparison, rate_series
from edgeapp.errors import EdgeappError
from edgeapp.runs import RunResult
from edgeapp.tui.engine_session import EngineSession, StoppedBeforeReply
from edgeapp.tui.state import AppState, state_of
from edgeapp.tui.widgets.app_header import AppHeader
from edgeapp.tui.widgets.compare.compare_controls import (
    CompareControls,
    ComparePlan,
    default_refs,
)
from edgeapp.tui.widgets.compare.compare_pane import ComparePane
from edgeapp.tui.widgets.compare.rate_plot import RatePlot
from edgeapp.tui.widgets.compare.summary_table import SummaryTable
from edgeapp.tui.widgets.stats.stats_view import StatsView


class CompareScreen(Screen):
    """Run A and B on one prompt (fair: one after the other; race: at once) and compare them."""

    AUTO_FOCUS = "#compare-run"  # not a text box, so the app's letter keys keep working

    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+s", "export", "Export"),
        Binding("ctrl+l", "measure_quality", "Measure quality"),
    ]

    DEFAULT_CSS = """
    CompareScreen #compare-panes { height: 1fr; }
    CompareScreen #compare-summary { height: 17; display: none; }
    CompareScreen.-has-summary #compare-summary { display: block; }
    CompareScreen #compare-summary SummaryTable { width: 1fr; }
    CompareScreen #compare-side { width: 54; padding: 0 1; }
    CompareScreen #compare-price-row { height: 1; margin-top: 1; }
    CompareScreen #compare-price { width: 10; }
    CompareScreen #compare-quality-status { height: 1; color: $text-muted; margin-top: 1; }
    CompareScreen #compare-export-path { height: auto; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.comparison: Comparison | None = None
        self.results: dict[str, RunResult | None] = {}
        self._active_sides: set[str] = set()
        self._plan: ComparePlan | None = None
        self._stopped = False
        self._quality_busy = False
        self.exported: ExportPaths | None = None  # the files of the last export

    @property
    def app_state(self) -> AppState:
        """Return the app's shared state (settings, hardware, selected model)."""
        return state_of(self)

    def compose(self) -> ComposeResult:
        settings = self.app_state.settings
        ref_a, ref_b = default_refs(self.app_state.selected_ref, settings)
        yield AppHeader()
        yield CompareControls(ref_a, ref_b, settings.max_tokens)
        with Horizontal(id="compare-panes"):
            yield ComparePane("A", id="compare-pane-a")
            yield ComparePane("B", id="compare-pane-b")
        with Horizontal(id="compare-summary"):
            yield SummaryTable(id="compare-table")
            with Vertical(id="compare-side"):
                yield RatePlot(id="compare-plot")
                with Horizontal(id="compare-price-row"):
                    yield Label("Price USD/hour ")
                    yield Input(
                        f"{settings.price_per_hour:g}", id="compare-price", compact=True, type="number"
                    )
                    yield Button("Export", id="compare-export", compact=True)
                    yield Button("Quality", id="compare-quality", compact=True)
                yield Static("", id="compare-quality-status")
                yield Static("", id="compare-export-path")
        yield EngineSession(id="engine-a", monitor_interval_s=0.1)
        yield EngineSession(id="engine-b", monitor_interval_s=0.1)
        yield Footer()

    def on_mount(self) -> None:
        if hasattr(self.app, "selected_ref"):
            self.watch(self.app, "selected_ref", self._selection_changed, init=False)

    def _selection_changed(self, ref: str) -> None:
        """Follow a new selection with the default pair, unless a comparison is running."""
        if not self.running:
            ref_a, ref_b = default_refs(ref, self.app_state.settings)
            self.query_one("#compare-a", Input).value = ref_a
            self.query_one("#compare-b", Input).value = ref_b

    # -- helpers -----------------------------------------------------------------------------

    def _pane(self, side: str) -> ComparePane:
        return self.query_one(f"#compare-pane-{side}", ComparePane)

    def _session(self, side: str) -> EngineSession:
        return self.query_one(f"#engine-{side}", EngineSession)

    def _side_of(self, session: EngineSession) -> str:
        return "a" if session.id == "engine-a" else "b"

    def _base_view(self) -> StatsView:
        hardware = self.app_state.hardware
        return StatsView(has_gpu=bool(hardware and hardware.gpus))

    @property
    def running(self) -> bool:
        """Return True while either side is loading or generating."""
        return bool(self._active_sides)

    # -- running -----------------------------------------------------------------------------

    @on(CompareControls.RunRequested)
    def action_run(self) -> None:
        """Run A and B on the prompt (fair or race, as chosen)."""
        if self.running:
            self.notify("A comparison is running; Esc stops it.", severity="warning")
            return
        try:
            plan = self.query_one(CompareControls).read_plan(
                self.app_state.settings, self.app_state.hardware.cpu.physical_cores
            )
        except (EdgeappError, ValueError) as error:
            self.notify(str(error), title="Cannot compare", severity="error")
            return
        self._plan, self._stopped, self.results, self.comparison = plan, False, {}, None
        self.set_class(False, "-has-summary")
        self.query_one("#compare-export-path", Static).update("")
        self.query_one("#compare-quality-status", Static).update("")
        for side in ("a", "b"):
            self._pane(side).reset(plan.ref(side), self._base_view())
            self._pane(side).set_status("waiting for A" if side == "b" and plan.mode == "fair" else "queued")
        self._start("a")
        if plan.mode == "race":
            self._start("b")

    def _start(self, side: str) -> None:
        plan = self._plan
        assert plan is not None
        self._active_sides.add(side)
        self._pane(side).set_status("starting…", running=True)
        self._session(side).run_once(
            plan.ref(side), plan.settings, self.app_state.hardware, plan.prompt, plan.threads
        )

    @on(CompareControls.StopRequested)
    def action_stop(self) -> None:
        """Stop both sides (a fair run does not go on to B)."""
        if not self.running:
            return
        self._stopped = True
        for side in tuple(self._active_sides):
            self._session(side).stop()

    @on(EngineSession.Status)
    def _on_status(self, message: EngineSession.Status) -> None:
        self._pane(self._side_of(message.session)).set_status(message.text)

    @on(EngineSession.ModelLoaded)
    def _on_loaded(self, message: EngineSession.ModelLoaded) -> None:
        side = self._side_of(message.session)
        loaded = message.loaded
        self._pane(side).border_title = f"{side.upper()} · {message.model.label}"
        self._pane(side).set_status(
            f"loaded in {loaded.load_s:.2f} s · {loaded.threads} threads · GPU layers {loaded.gpu_layers}/{loaded.n_layers}"
        )

    @on(EngineSession.Progress)
    def _on_progress(self, message: EngineSession.Progress) -> None:
        pane = self._pane(self._side_of(message.session))
        pane.append(message.delta)
        pane.show_stats(pane.stats_view.with_live(message.figures, message.sample))

    @on(EngineSession.ReplyFinished)
    def _on_finished(self, message: EngineSession.ReplyFinished) -> None:
        side = self._side_of(message.session)
        pane, run = self._pane(side), message.run
        self._active_sides.discard(side)
        self.results[side] = run
        view = pane.stats_view.with_final(message.stats)
        if run is not None:
            view = replace(view, rss_bytes=run.peak_rss_bytes, vram_bytes=run.peak_vram_bytes)
        pane.show_stats(view)
        reason = {"cancelled": "stopped", "length": "max tokens", "eos": "end of answer"}.get(
            message.stats.stop_reason, message.stats.stop_reason
        )
        pane.set_status(f"finished ({reason}) · peak figures shown", running=False)
        self._next_or_summary(side)

    @on(EngineSession.Failed)
    def _on_failed(self, message: EngineSession.Failed) -> None:
        side = self._side_of(message.session)
        self._active_sides.discard(side)
        if isinstance(message.error, StoppedBeforeReply):
            self._pane(side).set_status("stopped before it answered", running=False)
        else:
            self.notify(f"{side.upper()}: {message.error}", title="Compare", severity="error", timeout=10)
            self._pane(side).set_status(f"failed: {message.error}", running=False, failed=True)
        self._next_or_summary(side)

    def _next_or_summary(self, side: str) -> None:
        plan = self._plan
        if side == "a" and plan is not None and plan.mode == "fair" and not self._stopped:
            self._start("b")
            return
        if self.running:
            return
        if self.results.get("a") is not None and self.results.get("b") is not None:
            self._show_summary()

    # -- summary -----------------------------------------------------------------------------

    def _show_summary(self) -> None:
        from edgeapp.hardware import probe_summary

        plan = self._plan
        assert plan is not None
        run_a, run_b = self.results["a"], self.results["b"]
        assert run_a is not None and run_b is not None
        self.comparison = Comparison(
            prompt=plan.prompt,
            mode=plan.mode,
            settings=run_a.settings.to_json(),
            a=SideResult.from_run(run_a),
            b=SideResult.from_run(run_b),
            price_per_hour=self._price(plan.settings.price_per_hour),
            machine=probe_summary(self.app_state.hardware),
        )
        self.show_comparison(self.comparison)
        self._look_up_quality()

    def show_comparison(self, comparison: Comparison) -> None:
        """Fill the summary table and the plot from `comparison` (also used with injected results)."""
        self.comparison = comparison
        self.set_class(True, "-has-summary")
        self.query_one(SummaryTable).show(comparison)
        series = []
        for name, side in (("A", comparison.a), ("B", comparison.b)):
            duration = side.token_times[-1][0] if side.token_times else 0.0
            series.append((f"{name} {side.label}", rate_series(side.token_times), duration))
        self.query_one(RatePlot).plot(series)

    def _price(self, default: float) -> float:
        try:
            value = float(self.query_one("#compare-price", Input).value)
        except ValueError:
            return default
        return value if value >= 0 else default

    @on(Input.Changed, "#compare-price")
    def _price_changed(self, event: Input.Changed) -> None:
        if self.comparison is None:
            return
        try:
            price = float(event.value)
        except ValueError:
            return
        if price >= 0:
            self.show_comparison(self.comparison.with_price(price))

    @on(Button.Pressed, "#compare-export")
    def action_export(self) -> None:
        """Write the comparison as Markdown and JSON into the data directory."""
        if self.comparison is None:
            self.notify("Run a comparison first.", severity="warning")
            return
        try:
            paths = export_comparison(self.comparison)
        except OSError as error:
            self.notify(f"could not export: {error}", severity="error")
            return
        self.query_one("#compare-export-path", Static).update(
            f"Saved {paths.markdown}\n  and {paths.json.name}"
        )
        self.notify(f"Saved {paths.markdown.name} and {paths.json.name}", title="Exported")
        self.exported = paths

    # -- quality -----------------------------------------------------------------------------

    def _build(self) -> str | None:
        backend = self.app_state.backend
        return backend.build if backend is not None else None

    @work(thread=True, exclusive=True, group="compare-quality-cache", exit_on_error=False)
    def _look_up_quality(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        try:
            qa, qb = cached_quality_for(comparison, self.app_state.hardware, self._build())
        except Exception:  # a damaged cache only means no remembered figures
            return
        if qa is not None and qb is not None:
            self.app.call_from_thread(self._quality_ready, comparison, qa, qb, False)

    @on(Button.Pressed, "#compare-quality")
    def action_measure_quality(self) -> None:
        """Measure perplexity, KL divergence and top-1 agreement of A and B (a few chunks)."""
        if self.comparison is None:
            self.notify("Run a comparison first.", severity="warning")
            return
        if self._quality_busy or self.running:
            self.notify("Busy; wait for the current run.", severity="warning")
            return
        if self.comparison.a.path == self.comparison.b.path:
            self.notify("A and B are the same file: their quality is the same.", severity="warning")
            return
        self._quality_busy = True
        self.query_one("#compare-quality-status", Static).update("measuring quality…")
        self._measure_quality(self.comparison)

    @work(thread=True, exclusive=True, group="compare-quality", exit_on_error=False)
    def _measure_quality(self, comparison: Comparison) -> None:
        from edgeapp.tui.compare_quality import measure_quality

        a, b = self.results.get("a"), self.results.get("b")
        assert a is not None and b is not None  # the summary exists only when both ran
        status = self.query_one("#compare-quality-status", Static)

        def progress(text: str, fraction: float | None) -> None:
            shown = f"{text} {fraction:.0%}" if fraction is not None else text
            self.app.call_from_thread(status.update, f"quality: {shown}")

        try:
            qa, qb = measure_quality(
                a.model,
                b.model,
                self.app_state.hardware,
                self._build(),
                gpu_layers=a.loaded.gpu_layers,
                on_progress=progress,
            )
        except Exception as error:  # every failure becomes a notification
            self.app.call_from_thread(self._quality_failed, error)
            return
        self.app.call_from_thread(self._quality_ready, comparison, qa, qb, True)

    def _quality_failed(self, error: Exception) -> None:
        self._quality_busy = False
        self.query_one("#compare-quality-status", Static).update("")
        self.notify(f"quality measurement failed: {error}", severity="error", timeout=10)

    def _quality_ready(self, comparison: Comparison, qa: Any, qb: Any, measured: bool) -> None:
        self._quality_busy = False
        if self.comparison is None or (self.comparison.a, self.comparison.b) != (comparison.a, comparison.b):
            return  # a newer run replaced the one measured
        self.show_comparison(self.comparison.with_quality(qa, qb))
        source = "measured" if measured else "from the measurement cache"
        self.query_one("#compare-quality-status", Static).update(f"quality {source} (vs {qa.reference})")


def cached_quality_for(comparison: Comparison, hardware: Any, build: str | None) -> tuple[Any, Any]:
    """Return remembered quality figures of both sides of `comparison`, or (None, None)."""
    from pathlib import Path

    from edgeapp.tui.compare_quality import cached_quality

    return cached_quality(Path(comparison.a.path), Path(comparison.b.path), hardware, build)
