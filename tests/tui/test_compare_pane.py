"""A compare pane streams its answer as plain text and shows it as Markdown once the side stops."""

from __future__ import annotations

from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from edgeapp.settings import Settings
from edgeapp.tui.widgets.compare.compare_pane import ComparePane
from edgeapp.tui.widgets.markdown.stream_tail import StreamTail
from edgeapp.tui.widgets.stats.stats_view import StatsView
from tests.tui.shell_support import SIZE, make_app, wait_until

ANSWER = "Fewer **bits** per weight.\n\n```\nq4 = 4.5 bits\n```\n\nSo: faster"


async def test_the_answer_streams_as_text_and_ends_as_markdown_when_the_side_stops():
    app = make_app(settings=Settings(max_tokens=64), start_mode="compare")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.screen.query_one("#compare-pane-a", ComparePane)
        pane.reset("default:Q2_K", StatsView())
        pane.set_status("generating…", running=True)
        for start in range(0, len(ANSWER), 7):
            pane.append(ANSWER[start : start + 7])
            await pilot.pause()
        tail = pane.query_one(StreamTail)
        assert pane.text == ANSWER and tail.display and tail.text.endswith("So: faster")
        pane.set_status("finished (end of answer)", running=False)
        await wait_until(pilot, lambda: not tail.display, "the answer to be rendered as Markdown")
        texts = [block.render().plain for block in pane.query(MarkdownBlock)]
        assert texts[0] == "Fewer bits per weight." and texts[-1] == "So: faster"
        assert pane.query_one(MarkdownFence).code.strip() == "q4 = 4.5 bits"
        pane.reset("default:Q8_0", StatsView())  # the next run starts empty
        await pilot.pause()
        assert pane.text == "" and not list(pane.query(MarkdownBlock))
