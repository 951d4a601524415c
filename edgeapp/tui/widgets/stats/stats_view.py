"""What a stats widget shows, as one frozen value: live figures, final figures, or injected ones.

Widgets render a `StatsView` and nothing else, so snapshot tests can fix every volatile figure by
handing them a fixed view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from edgeapp.comparison import format_bytes
from edgeapp.engine.monitor import ResourceSample
from edgeapp.engine.protocol import GenerationStats
from edgeapp.tui.live_reply import LiveFigures


@dataclass(frozen=True)
class StatsView:
    """Everything a stats panel displays; None means "not known yet"."""

    model_label: str = "—"
    gpu_layers: str = "—"
    status: str = "no model loaded"
    gen_tps: float | None = None
    rates: tuple[float, ...] = ()
    ttft_s: float | None = None
    prompt_tps: float | None = None
    tokens: int | None = None
    rss_bytes: int | None = None
    vram_bytes: int | None = None
    has_gpu: bool = False
    cpu_percent: float | None = None
    final: bool = False  # True: the engine's exact figures; False: live estimates

    def with_live(self, figures: LiveFigures, sample: ResourceSample | None) -> StatsView:
        """Return this view updated with live figures and a resource sample."""
        view = replace(
            self,
            gen_tps=figures.gen_tps,
            rates=figures.rates,
            ttft_s=figures.ttft_s,
            tokens=figures.tokens,
            final=False,
        )
        return view.with_sample(sample)

    def with_sample(self, sample: ResourceSample | None) -> StatsView:
        """Return this view with the engine's latest RSS, VRAM and CPU figures."""
        if sample is None:
            return self
        return replace(
            self, rss_bytes=sample.rss_bytes, vram_bytes=sample.vram_bytes, cpu_percent=sample.cpu_percent
        )

    def with_final(self, stats: GenerationStats) -> StatsView:
        """Return this view with the engine's exact figures for a finished reply."""
        return replace(
            self,
            gen_tps=stats.gen_tps,
            ttft_s=stats.ttft_s,
            prompt_tps=stats.prompt_tps,
            tokens=stats.gen_tokens,
            final=True,
        )


def fmt_tps(value: float | None) -> str:
    """Return tokens/s for display."""
    return "—" if value is None else f"{value:.1f} tok/s"


def fmt_seconds(value: float | None) -> str:
    """Return a duration as ms below a second, else seconds."""
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def fmt_bytes(value: int | None) -> str:
    return "—" if value is None else format_bytes(value)


def fmt_vram(view: StatsView) -> str:
    """Return the VRAM figure, or "no GPU" on a machine without one."""
    if view.vram_bytes is not None:
        return format_bytes(view.vram_bytes)
    return "—" if view.has_gpu else "no GPU"


def fmt_cpu(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} %"
