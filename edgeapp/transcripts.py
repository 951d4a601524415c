"""Chat transcripts: what was said, with which model and settings, saved atomically as JSON.

One file per conversation in `locations.transcripts_directory()`, named by the transcript id. The
TUI saves after every completed (or stopped) reply, so a crash loses at most the reply in flight.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from edgeapp import locations
from edgeapp.atomic import atomic_write_json, read_json
from edgeapp.errors import EdgeappError

FORMAT_VERSION = 1
_ID_PATTERN = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_TITLE_CHARS = 60

Role = Literal["system", "user", "assistant"]


class TranscriptError(EdgeappError):
    """A transcript file is missing or unreadable."""


@dataclass(frozen=True)
class ReplyStats:
    """The measured figures of one assistant reply."""

    gen_tokens: int
    prompt_tokens: int
    ttft_s: float
    gen_tps: float
    prompt_tps: float
    total_s: float
    stop_reason: str
    model_label: str = ""  # the model that wrote this reply (a chat may switch models)

    @classmethod
    def from_generation(cls, stats: Any, model_label: str = "") -> ReplyStats:
        """Return the figures of an engine `GenerationStats`."""
        return cls(
            gen_tokens=stats.gen_tokens,
            prompt_tokens=stats.prompt_tokens,
            ttft_s=stats.ttft_s,
            gen_tps=stats.gen_tps,
            prompt_tps=stats.prompt_tps,
            total_s=stats.total_s,
            stop_reason=stats.stop_reason,
            model_label=model_label,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplyStats:
        return cls(
            gen_tokens=int(data["gen_tokens"]),
            prompt_tokens=int(data["prompt_tokens"]),
            ttft_s=float(data["ttft_s"]),
            gen_tps=float(data["gen_tps"]),
            prompt_tps=float(data["prompt_tps"]),
            total_s=float(data["total_s"]),
            stop_reason=str(data["stop_reason"]),
            model_label=str(data.get("model_label", "")),
        )


@dataclass(frozen=True)
class TranscriptMessage:
    """One message; assistant replies carry their stats (None if the engine died mid-reply)."""

    role: Role
    content: str
    stats: ReplyStats | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.stats is not None:
            data["stats"] = self.stats.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptMessage:
        role = data["role"]
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"unknown role {role!r}")
        stats = data.get("stats")
        return cls(role, str(data["content"]), ReplyStats.from_json(stats) if stats else None)


@dataclass(frozen=True)
class Transcript:
    """A conversation: messages in order, the model label and the settings it ran with."""

    id: str
    model_label: str
    settings: dict[str, Any] = field(default_factory=dict)
    messages: tuple[TranscriptMessage, ...] = ()
    created_at: str = ""
    updated_at: str = ""

    @property
    def title(self) -> str:
        """Return the first user message, shortened to one line (or "New chat")."""
        for message in self.messages:
            if message.role == "user":
                return title_from(message.content)
        return "New chat"

    @property
    def has_reply(self) -> bool:
        """Return True once the conversation holds at least one user message."""
        return any(m.role == "user" for m in self.messages)

    def with_message(self, message: TranscriptMessage, now: datetime | None = None) -> Transcript:
        """Return this transcript with `message` appended and the update time set."""
        return replace(self, messages=(*self.messages, message), updated_at=_timestamp(now))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "id": self.id,
            "title": self.title,
            "model_label": self.model_label,
            "settings": self.settings,
            "messages": [m.to_json() for m in self.messages],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            id=str(data["id"]),
            model_label=str(data.get("model_label", "")),
            settings=dict(data.get("settings") or {}),
            messages=tuple(TranscriptMessage.from_json(m) for m in data.get("messages", [])),
            created_at=str(data.get("created_at", "")),
            updated_at=str(data.get("updated_at", "")),
        )


@dataclass(frozen=True)
class TranscriptSummary:
    """What a list of transcripts shows, without loading every message into the UI."""

    id: str
    title: str
    model_label: str
    message_count: int
    created_at: str
    updated_at: str
    path: Path


def _timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")


def title_from(text: str) -> str:
    """Return the first non-empty line of `text`, cut to 60 characters with an ellipsis."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1].rstrip() + "…"


def new_transcript_id(now: datetime | None = None) -> str:
    """Return a fresh id that sorts by creation time, e.g. 20250101-120000-a1b2c3."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def new_transcript(
    model_label: str, settings: dict[str, Any] | None = None, system_prompt: str | None = None
) -> Transcript:
    """Return an empty transcript (with the system prompt as its first message, if any)."""
    now = datetime.now(timezone.utc)
    messages = (TranscriptMessage("system", system_prompt),) if system_prompt else ()
    stamp = _timestamp(now)
    return Transcript(new_transcript_id(now), model_label, dict(settings or {}), messages, stamp, stamp)


def transcript_path(transcript_id: str, directory: Path | None = None) -> Path:
    """Return the file of transcript `transcript_id`; TranscriptError for an id that is not ours."""
    if not _ID_PATTERN.match(transcript_id):
        raise TranscriptError(f"'{transcript_id}' is not a transcript id")
    return (directory or locations.transcripts_directory()) / f"{transcript_id}.json"


def save_transcript(transcript: Transcript, directory: Path | None = None) -> Path:
    """Write `transcript` atomically; return its path."""
    path = transcript_path(transcript.id, directory)
    atomic_write_json(path, transcript.to_json())
    return path


def load_transcript(transcript_id: str, directory: Path | None = None) -> Transcript:
    """Return the saved transcript `transcript_id`; TranscriptError if missing or damaged."""
    path = transcript_path(transcript_id, directory)
    data = read_json(path)
    if data is None:
        raise TranscriptError(f"no readable transcript at {path}; it may have been deleted")
    try:
        return Transcript.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise TranscriptError(f"{path} is not a valid transcript ({error}); remove or fix it") from None


def list_transcripts(directory: Path | None = None) -> list[TranscriptSummary]:
    """Return the saved transcripts, most recently updated first; damaged files are skipped."""
    directory = directory or locations.transcripts_directory()
    summaries = []
    for path in directory.glob("*.json"):
        if not _ID_PATTERN.match(path.stem):
            continue
        try:
            transcript = load_transcript(path.stem, directory)
        except TranscriptError:
            continue
        summaries.append(
            TranscriptSummary(
                id=transcript.id,
                title=transcript.title,
                model_label=transcript.model_label,
                message_count=sum(1 for m in transcript.messages if m.role != "system"),
                created_at=transcript.created_at,
                updated_at=transcript.updated_at,
                path=path,
            )
        )
    summaries.sort(key=lambda s: (s.updated_at, s.id), reverse=True)
    return summaries


def delete_transcript(transcript_id: str, directory: Path | None = None) -> bool:
    """Remove a saved transcript; return False if there was none."""
    path = transcript_path(transcript_id, directory)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
