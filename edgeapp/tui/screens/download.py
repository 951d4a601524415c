"""The downloads screen: pick a catalog model and quant, see the exact file and whether it fits,
download it with progress (cancel and resume), and manage the files already in the cache."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Select, Static

from edgeapp.tui.state import AppState, state_of
from edgeapp.tui.widgets.app_footer import AppFooter
from edgeapp.tui.widgets.app_header import AppHeader
from edgeapp.tui.widgets.cached_files import CachedFilesTable
from edgeapp.tui.widgets.download_facts import describe_error, header_fit
from edgeapp.tui.widgets.download_progress import DownloadProgressView, format_duration
from edgeapp.units import format_bytes

if TYPE_CHECKING:
    from edgeapp.catalog import CatalogModel
    from edgeapp.downloads import CachedFile, DownloadProgress, DownloadResult


class DownloadScreen(Screen[None]):
    """Download GGUF files from the hub into the Hugging Face cache, resumably."""

    AUTO_FOCUS = "#dl-model"
    BINDINGS = [
        Binding("g", "download", "Download", tooltip="Download the chosen file, or resume it"),
        Binding("s", "stop", "Stop", tooltip="Cancel the running download (Download resumes it)"),
        Binding(
            "r", "check", "Check hub", show=False, tooltip="Ask the hub again for the file's size and header"
        ),
        Binding("x,delete", "remove_cached", "Remove file", tooltip="Remove the highlighted cached file"),
    ]

    class Progress(Message):
        def __init__(self, report: DownloadProgress) -> None:
            self.report = report
            super().__init__()

    class Finished(Message):
        def __init__(self, label: str, result: DownloadResult | None, error: BaseException | None) -> None:
            self.label = label
            self.result = result
            self.error = error
            super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self._cancel: threading.Event | None = None
        self._quiet = False  # set while the selects are changed by code, not by the user
        self._check_id = 0  # the newest hub check; older ones still running must not overwrite it

    # -- layout --------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        models = list(self._state.catalog)
        model_id, quant = self._initial_choice(models)
        yield AppHeader()
        with VerticalScroll(id="dl-body"):
            with Vertical(id="dl-choose", classes="panel") as panel:
                panel.border_title = "Download from the hub"
                with Horizontal(id="dl-choice"):
                    yield Label("model", classes="dl-label")
                    options = [(f"{m.name} ({m.id})", m.id) for m in models]
                    yield Select(
                        options, value=model_id, allow_blank=False, type_to_search=False, id="dl-model"
                    )
                    yield Label("quant", classes="dl-label")
                    yield Select(_quant_options(self._model(model_id)), value=quant, allow_blank=False,
                                 type_to_search=False, id="dl-quant")  # fmt: skip
                with Horizontal(id="dl-buttons"):
                    yield Button("Download", variant="primary", id="dl-start")
                    yield Button("Stop", variant="error", id="dl-stop", disabled=True)
                    yield Button("Check hub", id="dl-check")
                yield Static(id="dl-note", classes="dim")
                yield Static("asking the hub about this file…", id="dl-file")
                yield Static(id="dl-fit")
                yield DownloadProgressView(id="dl-progress")
                yield Static(id="dl-error")
            with Vertical(id="dl-cache", classes="panel") as panel:
                panel.border_title = "Downloaded files (Hugging Face cache)"
                yield CachedFilesTable(id="dl-cached")
                yield Static(id="dl-cache-hint", classes="dim")
        yield AppFooter()

    @property
    def _state(self) -> AppState:
        return state_of(self)

    def _model(self, model_id: str) -> CatalogModel:
        return self._state.catalog.get(model_id)

    def _initial_choice(self, models: list[CatalogModel]) -> tuple[str, str]:
        """Return (model, quant) for the selected model: its own quant, else a middle one until the pick."""
        from edgeapp.bundled import BUNDLED_CATALOG_ID

        model_id, _, quant = self._state.selected_ref.partition(":")
        if model_id == "default" or model_id not in self._state.catalog:
            model_id = BUNDLED_CATALOG_ID if BUNDLED_CATALOG_ID in self._state.catalog else models[0].id
        model = self._model(model_id)
        quant = quant.upper() if quant.upper() in model.files else _middle(model)
        return model.id, quant

    def on_mount(self) -> None:
        self._update_note()
        self.choose(self._state.selected_ref)

    def on_screen_resume(self) -> None:
        self._refresh_cache()

    # -- choosing ------------------------------------------------------------------------------------

    def choose(self, ref: str) -> None:
        """Show `catalog-id[:QUANT]`; without a quant, the picker's choice for this machine.

        `default` (the bundled model) stands for its catalog entry. Used on arrival, by the command
        palette's and the models screen's download entries.
        """
        from edgeapp.bundled import BUNDLED_CATALOG_ID

        model_id, _, quant = ref.partition(":")
        if model_id == "default":
            model_id, quant = BUNDLED_CATALOG_ID, ""
        if model_id not in self._state.catalog:
            if ref != self._state.selected_ref:
                self.notify(
                    f"{model_id} is not in the catalog; only catalog models download", severity="warning"
                )
            self.action_check()
            return
        model = self._model(model_id)
        if quant.upper() in model.files:
            self._set_choice(model.id, quant.upper())
        else:
            self._recommend(model.id)

    def _set_choice(self, model_id: str, quant: str | None, recommended: str | None = None) -> None:
        model = self._model(model_id)
        self._quiet = True
        try:
            self.query_one("#dl-model", Select).value = model.id
            quant_select: Select[str] = self.query_one("#dl-quant", Select)
            quant_select.set_options(_quant_options(model, recommended))
            quant_select.value = quant or _middle(model)
        finally:
            self._quiet = False
        self._update_note()
        self.action_check()

    @work(thread=True, exclusive=True, group="dl-recommend", exit_on_error=False)
    def _recommend(self, model_id: str) -> None:
        """Move the quant to the picker's recommendation for `model_id` on this machine."""
        try:
            quant = self._state.pick(model_id).quant
        except Exception:  # noqa: BLE001 - without a pick the middle quant stays; the check still runs
            quant = None
        self.app.call_from_thread(self._set_choice, model_id, quant, quant)

    @on(Select.Changed, "#dl-model")
    def _model_changed(self, event: Select.Changed) -> None:
        if not self._quiet and isinstance(event.value, str):
            self._recommend(event.value)

    @on(Select.Changed, "#dl-quant")
    def _quant_changed(self) -> None:
        if not self._quiet:
            self.action_check()

    def _choice(self) -> tuple[CatalogModel, str]:
        model = self._model(str(self.query_one("#dl-model", Select).value))
        return model, str(self.query_one("#dl-quant", Select).value)

    def _update_note(self) -> None:
        model, _ = self._choice()
        notes = [f"{model.repo} · licence {model.license}"]
        if model.gated:
            notes.append("gated: accept the licence on the hub and set HF_TOKEN first")
        if model.note:
            notes.append(model.note)
        self.query_one("#dl-note", Static).update(escape(" · ".join(notes)))

    # -- the hub's facts -------------------------------------------------------------------------------

    def action_check(self) -> None:
        """Ask the hub for the chosen file's exact name and size, and read its header for a fit check."""
        model, quant = self._choice()
        self._check_id += 1
        self.query_one("#dl-file", Static).update(f"asking the hub about {escape(model.file_for(quant))}…")
        self.query_one("#dl-fit", Static).update("")
        self._check_worker(model.repo, model.file_for(quant), f"{model.id}:{quant}", self._check_id)

    def _show_check(self, check_id: int, widget_id: str, text: str) -> None:
        if check_id == self._check_id:
            self.query_one(widget_id, Static).update(text)

    @work(thread=True, group="dl-check", exit_on_error=False)
    def _check_worker(self, repo: str, filename: str, ref: str, check_id: int) -> None:
        from edgeapp.downloads import HubUnavailable, cached_file, resolve_remote_file
        from edgeapp.downloads.cache import incomplete_path
        from edgeapp.downloads.header import fetch_header_of

        cached = cached_file(repo, filename)
        here = f" · [$success]downloaded[/] ({escape(str(cached.path))})" if cached else ""
        try:
            remote = resolve_remote_file(repo, filename)
        except Exception as error:  # noqa: BLE001 - shown in place; the app stays up
            title, message = describe_error(
                error.for_ref(ref) if isinstance(error, HubUnavailable) else error
            )
            text = f"[b $error]{escape(title)}[/]: {escape(message)}{here}"
            self.app.call_from_thread(self._show_check, check_id, "#dl-file", text)
            return
        partial = incomplete_path(repo, remote.etag)
        resumable = partial.stat().st_size if partial.is_file() else 0
        renamed = f" (the catalog says {escape(filename)})" if remote.requested_filename else ""
        text = (
            f"[b]{escape(remote.repo)}/{escape(remote.filename)}[/]{renamed} · "
            f"[b]{format_bytes(remote.size_bytes)}[/] ({remote.size_bytes:,} bytes) · commit {remote.commit[:8]}"
            f"{here}"
        )
        if resumable and not cached:
            text += (
                f"\n{format_bytes(resumable)} already here from an earlier try: Download resumes from there"
            )
        self.app.call_from_thread(self._show_check, check_id, "#dl-file", text)
        try:
            header, read_bytes = fetch_header_of(remote)
            verdict, estimate = header_fit(
                header, self._state.hardware, self._state.settings.n_ctx, self._state.headroom()
            )
        except Exception as error:  # noqa: BLE001 - the fit check is optional
            fit = f"fit check unavailable: {escape(describe_error(error)[1])}"
        else:
            fit = (
                f"fit at {estimate.n_ctx} tokens: [b]{escape(verdict)}[/] · exact (GGUF header, "
                f"{format_bytes(read_bytes)} read)"
            )
        self.app.call_from_thread(self._show_check, check_id, "#dl-fit", fit)

    # -- downloading -----------------------------------------------------------------------------------

    @on(Button.Pressed, "#dl-start")
    def action_download(self) -> None:
        """Download (or resume) the chosen file."""
        if self._cancel is not None:
            self.notify("A download is already running; Stop it first", severity="warning")
            return
        model, quant = self._choice()
        self._cancel = threading.Event()
        self._set_running(True)
        self.query_one("#dl-error", Static).update("")
        self.query_one(DownloadProgressView).say(f"starting {model.id}:{quant}…", total=None, progress=0)
        self._download_worker(model.repo, model.file_for(quant), f"{model.id}:{quant}", self._cancel)

    @on(Button.Pressed, "#dl-stop")
    def action_stop(self) -> None:
        """Cancel the running download; what arrived stays on disk for a resume."""
        if self._cancel is None:
            self.notify("No download is running", severity="warning")
            return
        self._cancel.set()
        self.query_one("#dl-stop", Button).disabled = True

    @work(thread=True, group="download", exit_on_error=False)
    def _download_worker(self, repo: str, filename: str, label: str, cancel: threading.Event) -> None:
        from edgeapp.downloads import HubUnavailable, download

        def report(progress: DownloadProgress) -> None:
            self.post_message(self.Progress(progress))  # thread-safe; the screen redraws at its pace

        try:
            result = download(repo, filename, progress=report, cancel=cancel)
        except HubUnavailable as error:
            self.post_message(
                self.Finished(label, None, error.for_ref(label))
            )  # names `edgeapp pull <label>`
            return
        except Exception as error:  # noqa: BLE001 - every failure is shown; the app stays up
            self.post_message(self.Finished(label, None, error))
            return
        self.post_message(self.Finished(label, result, None))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        if self._cancel is not None:
            self.query_one(DownloadProgressView).show(message.report)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self._cancel = None
        self._set_running(False)
        view = self.query_one(DownloadProgressView)
        if message.error is not None:
            title, text = describe_error(message.error)
            from edgeapp.downloads import DownloadCancelled

            cancelled = isinstance(message.error, DownloadCancelled)
            view.say(f"{title.lower()}: {message.label}")
            self.query_one("#dl-error", Static).update(f"[b $error]{escape(title)}[/]: {escape(text)}")
            self.notify(text, title=title, severity="warning" if cancelled else "error", timeout=12)
        else:
            assert message.result is not None
            result = message.result
            view.say(_done_line(result), total=max(result.size_bytes, 1), progress=max(result.size_bytes, 1))
            self.notify(f"{message.label} is ready ({format_bytes(result.size_bytes)})", title="Downloaded")
            self._state.forget_picks()
        self._refresh_cache()
        self.action_check()

    def _set_running(self, running: bool) -> None:
        self.query_one("#dl-start", Button).disabled = running
        self.query_one("#dl-stop", Button).disabled = not running

    # -- the cache -------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="dl-cache", exit_on_error=False)
    def _refresh_cache(self) -> None:
        from edgeapp.downloads import hub_cache_dir, list_cached

        files = list_cached()
        total = sum(f.size_bytes for f in files)
        hint = (
            f"{len(files)} files, {format_bytes(total)} in {hub_cache_dir()} · x removes the highlighted file"
        )
        self.app.call_from_thread(self.query_one(CachedFilesTable).show_files, files)
        self.app.call_from_thread(self.query_one("#dl-cache-hint", Static).update, escape(hint))

    def action_remove_cached(self) -> None:
        """Remove the highlighted cached file (after a confirmation)."""
        item = self.query_one(CachedFilesTable).selected()
        if item is None:
            self.notify("No downloaded file to remove", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._remove_worker(item)

        self.app.push_screen(ConfirmRemove(item), confirmed)

    @work(thread=True, group="dl-remove", exit_on_error=False)
    def _remove_worker(self, item: CachedFile) -> None:
        from edgeapp.downloads import remove_cached

        try:
            freed = remove_cached(item.repo, item.filename)
        except Exception as error:  # noqa: BLE001 - shown; the app stays up
            title, text = describe_error(error)
            self.app.call_from_thread(self.notify, text, title=title, severity="error")
            return
        self._state.forget_picks()
        self.app.call_from_thread(
            self.notify, f"Removed {item.filename}, freed {format_bytes(freed)}", title="Removed"
        )
        self.app.call_from_thread(self._refresh_cache)
        self.app.call_from_thread(self.action_check)


class ConfirmRemove(ModalScreen[bool]):
    """Asks before deleting a downloaded file."""

    BINDINGS = [Binding("escape,n", "dismiss(False)", "Keep it"), Binding("y", "dismiss(True)", "Remove")]

    def __init__(self, item: CachedFile) -> None:
        super().__init__()
        self.item = item

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(
                f"Remove [b]{escape(self.item.filename)}[/] ({format_bytes(self.item.size_bytes)}) from "
                f"{escape(self.item.repo)}?\nIt can be downloaded again later."
            )
            with Horizontal(id="confirm-buttons"):
                yield Button("Remove (y)", variant="error", id="confirm-yes")
                yield Button("Keep (n)", id="confirm-no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


def _quant_options(model: CatalogModel, recommended: str | None = None) -> list[tuple[str, str]]:
    return [(f"{quant} ★ recommended" if quant == recommended else quant, quant) for quant in model.quants]


def _middle(model: CatalogModel) -> str:
    """Return Q4_K_M when the model has it, else its middle quant (a placeholder until the pick)."""
    return "Q4_K_M" if "Q4_K_M" in model.files else model.quants[len(model.quants) // 2]


def _done_line(result: DownloadResult) -> str:
    if result.from_cache:
        return f"already downloaded and verified: {result.path}"
    line = (
        f"done: {format_bytes(result.size_bytes)} · sha256 verified · fetched {format_bytes(result.downloaded_bytes)} "
        f"in {format_duration(result.elapsed_s)}"
    )
    if result.resumed_from_bytes:
        line += f" · resumed from {format_bytes(result.resumed_from_bytes)}"
    return line
