"""A dialog listing saved chat transcripts; choosing one reopens it in the chat."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from edgeapp.transcripts import TranscriptSummary, delete_transcript, list_transcripts


def _option(summary: TranscriptSummary) -> Option:
    when = summary.updated_at.replace("T", " ")[:16]
    prompt = Text(no_wrap=True, overflow="ellipsis")
    prompt.append(summary.title, "bold")
    prompt.append(f"\n{summary.model_label} · {summary.message_count} messages · {when}", "dim")
    return Option(prompt, id=summary.id)


class TranscriptsScreen(ModalScreen[str | None]):
    """Pick a transcript: dismisses with its id, or None."""

    DEFAULT_CSS = """
    TranscriptsScreen { align: center middle; }
    TranscriptsScreen > Vertical {
        width: 84; height: 80%; border: thick $primary 60%; background: $surface; padding: 1 2;
    }
    TranscriptsScreen .transcripts-title { text-style: bold; margin-bottom: 1; }
    TranscriptsScreen OptionList { height: 1fr; }
    TranscriptsScreen .transcripts-hint { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("delete", "delete", "Delete transcript"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Transcripts", classes="transcripts-title")
            yield OptionList(id="transcripts-list")
            yield Static("Enter opens · Delete removes · Esc closes", classes="transcripts-hint")

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        summaries = list_transcripts()
        if summaries:
            options.add_options([_option(s) for s in summaries])
            options.highlighted = 0
        else:
            options.add_option(Option("No saved transcripts yet: chat first.", disabled=True))
        options.focus()

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)

    def action_delete(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        option = options.get_option_at_index(options.highlighted)
        if option.id:
            delete_transcript(option.id)
            self.notify("Transcript deleted")
            self._fill()

    def action_cancel(self) -> None:
        self.dismiss(None)
