"""Personal data kept out of a streamed answer: pieces are held back until no item can still be growing."""

import re

from llm_engineering.domain.pii import redact_pii

# A word that may belong to an email, phone, card or IBAN: it holds a digit, "@" or "+", or is a lone "-".
_SUSPECT = re.compile(r"[\d@+]|^[-\u2013()]+$")


class StreamRedactor:
    """Redacts personal data from a stream of answer pieces.

    Text is released up to the last whole word, except a trailing run of words that could still be part of
    an item ("+44 20 7946" may go on with "0958"); such a run is released, redacted, once a word that cannot
    belong to it arrives, or at `flush`. Joined, the released text equals `redact_pii` of each released run.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """The text that can be released now, redacted; may be empty."""
        self._held += piece
        cut = self._safe_end(self._held)
        released, self._held = self._held[:cut], self._held[cut:]
        return redact_pii(released)[0] if released else ""

    def flush(self) -> str:
        """Whatever is still held, redacted: the stream has ended."""
        released, self._held = self._held, ""
        return redact_pii(released)[0] if released else ""

    @staticmethod
    def _safe_end(text: str) -> int:
        """Where released text may end: before the last (maybe partial) word and a suspect run before it."""
        spans = [match.span() for match in re.finditer(r"\S+", text)]
        if not spans:
            return len(text)
        end = spans[-1][0] if not text[-1].isspace() else len(text)  # the last word may not be whole yet
        for start, stop in reversed(spans):
            if stop > end:
                continue
            if not _SUSPECT.search(text[start:stop]):
                break
            end = start
        return end
