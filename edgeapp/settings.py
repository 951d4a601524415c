"""The user's settings: chat and run defaults the TUI edits and the CLI reads. Saved atomically."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from edgeapp import locations
from edgeapp.atomic import atomic_write_json, read_json

if TYPE_CHECKING:
    from edgeapp.engine.protocol import SamplingSettings

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."


@dataclass(frozen=True)
class Settings:
    """What a user sets once and expects to find again next time."""

    model_ref: str = "default"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int = 42
    max_tokens: int = 512
    n_ctx: int = 2048
    gpu_layers: str = "auto"  # "auto", "all" or a number of layers
    threads: int | None = None
    price_per_hour: float = 0.768  # USD; seed 000's m5.4xlarge on-demand price
    compare_a: str = "default:Q2_K"
    compare_b: str = "default:Q8_0"
    theme: str = "textual-dark"
    min_free_ram_bytes: int = 1 << 30
    min_free_ram_fraction: float = 0.2

    def sampling(self) -> SamplingSettings:
        """Return the sampling part as the engine's SamplingSettings."""
        from edgeapp.engine.protocol import SamplingSettings

        return SamplingSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
            seed=self.seed,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_settings() -> Settings:
    """Return the saved settings, defaults for anything missing or unreadable."""
    data = read_json(locations.settings_file(), default={})
    if not isinstance(data, dict):
        return Settings()
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    defaults = Settings()
    for name, value in data.items():
        if name not in known:
            continue
        default = getattr(defaults, name)
        if (
            default is None
            or isinstance(value, type(default))
            or (isinstance(default, float) and isinstance(value, int))
        ):
            values[name] = value
    return replace(defaults, **values)


def save_settings(settings: Settings) -> None:
    """Write the settings atomically (a crash leaves the previous file intact)."""
    atomic_write_json(locations.settings_file(), settings.to_json())


def parse_gpu_layers(value: str | int | None, n_layers: int | None = None) -> int | str:
    """Return "auto", -1 for all layers, or a layer count, from user input."""
    if value is None:
        return "auto"
    text = str(value).strip().lower()
    if text in ("auto", ""):
        return "auto"
    if text in ("all", "max", "-1"):
        return -1
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"GPU layers must be auto, all or a number, not {value!r}") from None
    if count < 0:
        raise ValueError("GPU layers cannot be negative (use 'all')")
    return min(count, n_layers) if n_layers else count
