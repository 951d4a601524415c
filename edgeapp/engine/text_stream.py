"""Turn token bytes into text as they arrive, and cut the text at stop strings.

Both work incrementally: a token may end in the middle of a UTF-8 character, and a stop string may
straddle several tokens, so each keeps a small tail back until it knows more. Neither rescans the
text already emitted, so the cost per token stays constant however long the reply gets.
"""

from __future__ import annotations

import codecs


class Utf8Stream:
    """Decode a stream of byte pieces into text, holding back incomplete characters."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        """Return the text completed by `piece` (possibly empty)."""
        return self._decoder.decode(piece)

    def flush(self) -> str:
        """Return whatever is left, with incomplete characters replaced."""
        return self._decoder.decode(b"", final=True)


class StopMatcher:
    """Find the first stop string in streamed text; emit only text that cannot start one."""

    def __init__(self, stops: tuple[str, ...] | list[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to show, whether a stop string was hit)."""
        if not self._stops:
            return text, False
        buffer = self._held + text
        first = -1
        for stop in self._stops:
            index = buffer.find(stop)
            if index != -1 and (first == -1 or index < first):
                first = index
        if first != -1:
            self._held = ""
            return buffer[:first], True
        keep = self._longest_stop_prefix_suffix(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep], False

    def flush(self) -> str:
        """Return text held back because it might have begun a stop string."""
        held, self._held = self._held, ""
        return held

    def _longest_stop_prefix_suffix(self, buffer: str) -> int:
        best = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:length]):
                    best = length
                    break
        return best
