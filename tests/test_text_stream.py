"""Incremental UTF-8 decoding and stop strings, fed the way the decode loop feeds them."""

from __future__ import annotations

from edgeapp.engine.text_stream import StopMatcher, Utf8Stream


def test_utf8_character_split_across_tokens_is_held_until_complete() -> None:
    stream = Utf8Stream()
    data = "héllo 🐉".encode()
    pieces = [data[:2], data[2:3], data[3:8], data[8:10], data[10:]]
    out = [stream.feed(p) for p in pieces]
    assert out[0] == "h"  # 'é' is two bytes; only its first arrived
    assert "".join(out) + stream.flush() == "héllo 🐉"


def test_invalid_bytes_become_replacement_characters_not_errors() -> None:
    stream = Utf8Stream()
    assert stream.feed(b"ok\xff") == "ok\ufffd"


def test_stop_string_split_across_pieces_is_found_and_not_shown() -> None:
    matcher = StopMatcher(["<|im_end|>"])
    shown = []
    for piece in ["Hello", " world<|", "im_", "end|> trailing"]:
        text, hit = matcher.feed(piece)
        shown.append(text)
        if hit:
            break
    assert "".join(shown) == "Hello world"
    assert hit


def test_text_that_only_looks_like_a_stop_prefix_is_released() -> None:
    matcher = StopMatcher(["END"])
    first, hit1 = matcher.feed("the E")
    second, hit2 = matcher.feed("nd is near")
    assert not hit1 and not hit2
    assert first == "the " and second == "End is near"


def test_earliest_of_several_stop_strings_wins() -> None:
    matcher = StopMatcher(["\n\n", "User:"])
    text, hit = matcher.feed("answer User: more\n\n")
    assert hit and text == "answer "


def test_no_stop_strings_passes_everything_through() -> None:
    matcher = StopMatcher([])
    assert matcher.feed("abc") == ("abc", False)
    assert matcher.flush() == ""
