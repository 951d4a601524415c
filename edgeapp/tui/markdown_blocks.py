"""Where the finished Markdown blocks of a streaming text end, so only those are rendered as Markdown.

A block is finished once a blank line follows it (outside a code fence) or its closing fence has
arrived: nothing streamed later can change how it renders, except that a list or a quote may
continue into the next block, which the Markdown widget handles by re-parsing its last block.
"""

from __future__ import annotations

import re

FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def completed_blocks_end(text: str, start: int = 0) -> int:
    """Return the offset in `text` just after its last finished block (`start` if none finished).

    `start` must be a block boundary (0, or an earlier return value): the scan begins outside any
    code fence there.
    """
    end, fence = start, ""
    position = start
    while True:
        newline = text.find("\n", position)
        if newline < 0:
            return end  # the last line is still arriving
        line = text[position:newline]
        position = newline + 1
        match = FENCE.match(line)
        if fence:
            if _closes(match, line, fence):
                fence, end = "", position
        elif match and not (match.group(1)[0] == "`" and "`" in line[match.end() :]):
            fence = match.group(1)  # an info string may not hold a backtick, else it is inline code
        elif not line.strip():
            end = position


def _closes(match: re.Match[str] | None, line: str, fence: str) -> bool:
    """Return True if `line` closes `fence`: the same character, at least as long, nothing after it."""
    if match is None:
        return False
    marker = match.group(1)
    return marker[0] == fence[0] and len(marker) >= len(fence) and not line[match.end() :].strip()


CONTINUABLE = re.compile(r" {0,3}([-+*]|\d{1,9}[.)])( |$)| {0,3}>| {4}|\t")


def last_block_open(text: str, end: int) -> bool:
    """Return True if the last block of `text[:end]` may be continued by a block after a blank line.

    Lists (their items may be loose, or hold more paragraphs) and quotes may; so may anything
    indented. Conservative: a block with such a line anywhere counts as open.
    """
    body = text[:end].rstrip()
    start = body.rfind("\n\n") + 1  # the line after the last blank line (0 if none)
    return any(CONTINUABLE.match(line) for line in body[start:].split("\n"))
