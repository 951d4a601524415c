"""A download's progress: a bar, then bytes, speed, time left, and where a resumed download started."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from edgeapp.units import format_bytes

if TYPE_CHECKING:
    from edgeapp.downloads import DownloadProgress


def format_duration(seconds: float | None) -> str:
    """Return 1h02m, 3m05s, 42s, or "-" when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def progress_line(report: DownloadProgress) -> str:
    """Return "45.2% · 123 MiB of 1.21 GiB · 12.3 MiB/s · 1m20s left · resumed from 40.0 MiB"."""
    parts = [
        f"{100 * report.fraction:.1f}%",
        f"{format_bytes(report.downloaded_bytes)} of {format_bytes(report.total_bytes)}",
        f"{format_bytes(report.speed_bytes_per_s)}/s",
        f"{format_duration(report.eta_s)} left",
    ]
    if report.resumed_from_bytes:
        parts.append(f"resumed from {format_bytes(report.resumed_from_bytes)}")
    return " · ".join(parts)


class DownloadProgressView(Vertical):
    """ProgressBar plus a line of figures; `show()` takes the downloader's DownloadProgress."""

    DEFAULT_CSS = """
    DownloadProgressView { height: auto; }
    DownloadProgressView ProgressBar { width: 1fr; }
    DownloadProgressView #dl-progress-bar Bar { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        # A determinate empty bar until a download starts: an idle indeterminate one would animate.
        yield ProgressBar(total=1, show_eta=False, id="dl-progress-bar")
        yield Static("not started", id="dl-progress-line")

    @property
    def bar(self) -> ProgressBar:
        return self.query_one(ProgressBar)

    def show(self, report: DownloadProgress) -> None:
        """Move the bar and the figures to `report`."""
        self.bar.update(total=max(report.total_bytes, 1), progress=report.downloaded_bytes)
        self.query_one("#dl-progress-line", Static).update(progress_line(report))

    def say(self, text: str, **update: Any) -> None:
        """Replace the figures with a sentence (starting, cancelled, done); optionally move the bar."""
        if update:
            self.bar.update(**update)
        self.query_one("#dl-progress-line", Static).update(text)
