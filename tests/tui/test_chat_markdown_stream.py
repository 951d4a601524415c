"""A streamed reply: plain text for the block still arriving, Markdown for finished blocks and at the end.

No engine runs here: the text goes into the chat screen's reply view the way the engine session's
Progress messages deliver it, so each test takes a second.
"""

from __future__ import annotations

import random

import pytest
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from edgeapp.settings import Settings
from edgeapp.tui.markdown_blocks import completed_blocks_end, last_block_open
from edgeapp.tui.screens.chat import ChatScreen
from edgeapp.tui.text_wrap import wrap_offsets
from edgeapp.tui.widgets.chat.message_log import MessageLog
from edgeapp.tui.widgets.markdown.stream_tail import StreamTail
from tests.tui.shell_support import SIZE, make_app, wait_until

REPLY = (
    "Quantization stores each weight in **fewer bits**.\n\n```python\nbits = 4\n```\n\nSo it runs *faster*."
)


@pytest.fixture(autouse=True)
def _no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChatScreen, "AUTOLOAD_MODEL", False)


def blocks(view) -> list[MarkdownBlock]:
    return list(view.body.query(MarkdownBlock))


def block_text(block: MarkdownBlock) -> str:
    return block.render().plain


async def test_a_streamed_reply_shows_plain_text_while_it_streams_and_ends_as_markdown():
    app = make_app(settings=Settings(), start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one(MessageLog).add("user", "What does quantization do?")
        view = screen.begin_reply()
        await pilot.pause()
        for piece in ("Quantization stores each ", "weight in **fewer", " bits**.\n\n```py"):
            view.append(piece)
            await pilot.pause()
        tail = view.body.query_one(StreamTail)
        assert view.body.streaming and tail.display
        assert "Quantization stores each weight in **fewer bits**." in tail.lines  # raw, not yet Markdown
        for piece in ("thon\nbits = 4\n```\n\nSo it runs ", "*faster*."):
            view.append(piece)
        view.finish()
        await wait_until(pilot, lambda: not view.body.streaming, "the reply to be rendered as Markdown")
        await pilot.pause()
        assert view.text == REPLY and not tail.display and view.body.tail_text == ""
        first, fence, last = blocks(view)
        assert block_text(first) == "Quantization stores each weight in fewer bits."
        assert any(span.style == ".strong" for span in first.render().spans)  # the bold span
        assert isinstance(fence, MarkdownFence) and "bits = 4" in fence.code
        assert block_text(last) == "So it runs faster."


async def test_finished_blocks_become_markdown_while_the_reply_still_streams():
    paragraphs = [f"Paragraph {i} says **something** about lighthouses and their keepers." for i in range(40)]
    text = "\n\n".join(paragraphs) + "\n\nThe last paragraph is still"
    app = make_app(settings=Settings(), start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.begin_reply()
        await pilot.pause()
        for start in range(0, len(text), 40):
            view.append(text[start : start + 40])
            await pilot.pause()
        await wait_until(pilot, lambda: not view.body.committing, "the finished blocks to be moved")
        assert view.body.streaming
        rendered = [block_text(block) for block in blocks(view)]
        assert rendered and rendered == [p.replace("**", "") for p in paragraphs[: len(rendered)]]
        assert len(view.body.segments) > 1  # a long reply is spread over several Markdown widgets
        # Every character is shown once: in the Markdown widgets or in the tail.
        shown = "".join(segment.source for segment in view.body.segments) + view.body.tail_text
        assert shown == text and view.body.tail_text.endswith("The last paragraph is still")
        view.finish()
        await wait_until(pilot, lambda: not view.body.streaming, "the end of the stream")
        assert block_text(blocks(view)[-1]) == "The last paragraph is still"
        assert len(blocks(view)) == 41


async def test_a_reopened_message_is_markdown_at_once():
    app = make_app(settings=Settings(), start_mode="chat")
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(MessageLog).add("assistant", REPLY)
        await pilot.pause()
        assert not view.body.streaming and not view.body.query_one(StreamTail).display
        assert len(blocks(view)) == 3


def test_wrapping_a_growing_text_from_its_last_line_gives_the_same_lines():
    rng = random.Random(7)
    words = ["a", "lighthouse", "keeper's", "日本語", "x" * 45, " ", "\n", "**lamp**", "wick,"]
    for _ in range(400):
        text = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(0, 60)))
        width = rng.randint(1, 40)
        lines: list[tuple[int, int]] = []
        for end in [*range(0, len(text), rng.randint(1, 9)), len(text)]:
            lines[-1:] = wrap_offsets(text[:end], width, lines[-1][0] if lines else 0)
        assert lines == wrap_offsets(text, width)


def test_wrapped_lines_break_between_words_and_cut_words_longer_than_a_line():
    text = "The keeper trimmed the wick\nat dusk. Supercalifragilistic!"
    lines = [text[a:b] for a, b in wrap_offsets(text, 12)]
    assert lines == ["The keeper", "trimmed the", "wick", "at dusk.", "Supercalifra", "gilistic!"]


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("A paragraph", ""),
        ("A paragraph\n\nand the next", "A paragraph\n\n"),
        ("One\n\nTwo\n\n", "One\n\nTwo\n\n"),
        ("Intro\n\n```py\nx = 1\n\ny = 2\n", "Intro\n\n"),  # a blank line inside a fence ends nothing
        ("```py\nx = 1\n```\nafter", "```py\nx = 1\n```\n"),  # the closing fence ends the block
        ("~~~~\n```\n\n~~~~\n\nnext", "~~~~\n```\n\n~~~~\n\n"),
    ],
)
def test_finished_blocks_end_at_a_blank_line_outside_a_code_fence(text: str, finished: str):
    assert text[: completed_blocks_end(text)] == finished


def test_lists_quotes_and_indented_blocks_may_go_on_after_a_blank_line():
    assert last_block_open("- one\n- two\n\n", 13)
    assert last_block_open("> quoted\n\n", 10)
    assert last_block_open("Text\n\n    code\n\n", 16)
    assert not last_block_open("Text\n\n## Heading\n\n", 18)
    assert not last_block_open("A **bold** claim.\n\n", 19)
