"""Transcripts: saved atomically, listed newest first, reopened exactly, damaged files reported."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from edgeapp.locations import transcripts_directory
from edgeapp.transcripts import (
    ReplyStats,
    Transcript,
    TranscriptError,
    TranscriptMessage,
    delete_transcript,
    list_transcripts,
    load_transcript,
    new_transcript,
    new_transcript_id,
    save_transcript,
    title_from,
    transcript_path,
)

STATS = ReplyStats(
    gen_tokens=12,
    prompt_tokens=30,
    ttft_s=0.05,
    gen_tps=150.5,
    prompt_tps=900.0,
    total_s=0.2,
    stop_reason="eos",
    model_label="default:Q4_1",
)


def conversation(question: str = "What is a lighthouse?\nAnd why?") -> Transcript:
    transcript = new_transcript("default:Q4_1", {"temperature": 0.0, "n_ctx": 2048}, "Be brief.")
    transcript = transcript.with_message(TranscriptMessage("user", question))
    return transcript.with_message(TranscriptMessage("assistant", "A tower with a light.", STATS))


def test_saved_transcript_reopens_identically():
    transcript = conversation()
    path = save_transcript(transcript)
    assert path.parent == transcripts_directory() and path.name == f"{transcript.id}.json"
    assert load_transcript(transcript.id) == transcript
    data = json.loads(path.read_text())
    assert data["title"] == "What is a lighthouse?"
    assert data["model_label"] == "default:Q4_1"
    assert data["settings"] == {"temperature": 0.0, "n_ctx": 2048}
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant"]
    assert data["messages"][2]["stats"]["gen_tps"] == 150.5
    assert "stats" not in data["messages"][1]
    assert data["created_at"] and data["updated_at"] >= data["created_at"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_list_is_newest_first_and_skips_damaged_files():
    older = conversation("first question")
    save_transcript(older)
    newer = conversation("second question")
    newer = newer.with_message(
        TranscriptMessage("user", "more"), now=datetime(2999, 1, 1, tzinfo=timezone.utc)
    )
    save_transcript(newer)
    (transcripts_directory() / "20240101-000000-abcdef.json").write_text("{not json")
    (transcripts_directory() / "notes.json").write_text("{}")
    summaries = list_transcripts()
    assert [s.id for s in summaries] == [newer.id, older.id]
    assert summaries[0].title == "second question" and summaries[0].message_count == 3


def test_damaged_or_missing_transcript_says_what_to_do():
    bad = transcripts_directory() / "20240101-000000-abcdef.json"
    bad.write_text(
        json.dumps({"id": "20240101-000000-abcdef", "messages": [{"role": "robot", "content": ""}]})
    )
    with pytest.raises(TranscriptError, match="not a valid transcript"):
        load_transcript("20240101-000000-abcdef")
    with pytest.raises(TranscriptError, match="no readable transcript"):
        load_transcript("20240101-000000-000000")
    with pytest.raises(TranscriptError, match="not a transcript id"):
        transcript_path("../../etc/passwd")


def test_delete_removes_the_file():
    transcript = conversation()
    save_transcript(transcript)
    assert delete_transcript(transcript.id)
    assert not delete_transcript(transcript.id)
    assert list_transcripts() == []


def test_titles_and_ids():
    assert title_from("\n\n  Hello there  \nsecond") == "Hello there"
    long = title_from("x" * 100)
    assert len(long) == 60 and long.endswith("…")
    assert new_transcript("m").title == "New chat"
    moment = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    first, second = new_transcript_id(moment), new_transcript_id(moment)
    assert first.startswith("20250304-050607-") and first != second
