"""Greedy word wrapping of plain text into terminal cells, as offsets, so a growing text re-wraps only its end."""

from __future__ import annotations

import re

from rich.cells import cell_len

_TOKEN = re.compile(r" +|[^ ]+")


def wrap_offsets(text: str, width: int, start: int = 0) -> list[tuple[int, int]]:
    """Return the (start, end) offsets in `text` of the lines of `text[start:]` wrapped at `width` cells.

    Lines break at newlines and between words (the spaces at a break are dropped); a word wider
    than the line is cut. `start` must be the start of a line (0, or a start this function
    returned): the lines before it are unchanged by anything appended after it, which is what lets
    a streaming text be re-wrapped from its last line only.
    """
    width = max(width, 1)
    lines: list[tuple[int, int]] = []
    line_start = start
    while True:
        newline = text.find("\n", line_start)
        end = len(text) if newline < 0 else newline
        lines.extend(_wrap_paragraph(text, line_start, end, width))
        if newline < 0:
            return lines
        line_start = newline + 1


def _wrap_paragraph(text: str, start: int, end: int, width: int) -> list[tuple[int, int]]:
    """Return the lines of `text[start:end]` (no newline in it); leading spaces stay as indentation."""
    lines: list[tuple[int, int]] = []
    line_start, line_end, cells = start, start, 0  # line_end: after the line's last word
    for match in _TOKEN.finditer(text, start, end):
        word = match.group()
        if word[0] == " ":
            continue  # counted when the next word is placed
        gap = match.start() - line_end  # spaces are one cell each
        word_cells = cell_len(word)
        if cells + gap + word_cells <= width:
            cells, line_end = cells + gap + word_cells, match.end()
            continue
        if line_end > line_start:
            lines.append((line_start, line_end))
        line_start = match.start()
        while word_cells > width:  # a word wider than a line is cut where the line is full
            cut = _cut(text, line_start, width)
            lines.append((line_start, cut))
            line_start = cut
            word_cells = cell_len(text[cut : match.end()])
        cells, line_end = word_cells, match.end()
    lines.append((line_start, line_end))
    return lines


def _cut(text: str, start: int, width: int) -> int:
    """Return the offset after the most characters from `start` that fit in `width` cells (at least one)."""
    cells, position = 0, start
    while position < len(text):
        char_cells = cell_len(text[position])
        if cells + char_cells > width and position > start:
            break
        cells += char_cells
        position += 1
    return position
