"""Splitting section text into the spans chunks are built from: sentences in paragraphs, lines of code."""

import re
from collections.abc import Iterator

from llm_engineering.domain.fences import fence_closes, fence_opening

Span = tuple[int, int]

# A sentence ends at . ! ? or an ellipsis, then closing quotes or brackets, before a space;
# or at an ideographic full stop, exclamation or question mark.
CLOSERS = "\"'\u201d\u2019)\\]\u00bb\u300d\u300f"
SENTENCE_END = re.compile(f"[.!?\u2026]+[{CLOSERS}]*(?=\\s)|[\u3002\uff01\uff1f]+[{CLOSERS}]*")
# Never end a sentence; "etc." is left out because it often does (before a capital).
ABBREVIATIONS = frozenset(
    "e.g. i.e. vs. cf. al. approx. mr. mrs. ms. dr. prof. sr. jr. st. no. fig. eq. vol. inc. ltd. co."
    " jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec.".split()
)
OPENERS = "(\"'\u201c\u2018\u00ab"
INITIALS = re.compile(r"(?:[^\W\d_]\.)+")  # J. or U.S. or e.g.


def _lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def _trimmed(text: str, start: int, end: int) -> Span:
    """The span without the whitespace around it."""
    part = text[start:end]
    return start + len(part) - len(part.lstrip()), start + len(part.rstrip())


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    """Spans of the sentences of one line of prose, keeping abbreviations such as e.g. or Dr. inside."""
    line, spans, begin = text[start:end], [], 0
    for match in SENTENCE_END.finditer(line):
        if line[match.end() :].lstrip()[:1].islower():
            continue  # "(really?) yes" or "e.g. the" go on
        if match.group()[0] == ".":
            word = line[line.rfind(" ", 0, match.start()) + 1 : match.start() + 1].lstrip(OPENERS).lower()
            if word in ABBREVIATIONS or INITIALS.fullmatch(word):
                continue
        spans.append(_trimmed(text, start + begin, start + match.end()))
        begin = match.end()
    spans.append(_trimmed(text, start + begin, end))
    return [(a, b) for a, b in spans if a < b]


def prose_blocks(text: str) -> list[list[Span]]:
    """Sentence spans grouped by paragraph; a fenced code block is one paragraph of line spans."""
    blocks: list[list[Span]] = [[]]
    fence: str | None = None
    for offset, line in _lines(text):
        code_line = (offset, offset + len(line.rstrip()))  # indentation kept: it is part of the code
        if fence is not None:
            blocks[-1] += [code_line] if line.strip() else []
            if fence_closes(line, fence):
                fence = None
                blocks.append([])
        elif (fence := fence_opening(line)) is not None:
            blocks.append([code_line])
        elif not line.strip():
            blocks.append([])
        else:
            blocks[-1] += sentence_spans(text, offset, offset + len(line))
    return [block for block in blocks if block]


def code_blocks(text: str) -> list[list[Span]]:
    """Line spans in blocks; after a blank line an indented line (a def body) continues its block."""
    blocks: list[list[Span]] = [[]]
    gap = False
    for offset, line in _lines(text):
        if not line.strip():
            gap = True
            continue
        if gap and not line[0].isspace():
            blocks.append([])
        gap = False
        blocks[-1].append((offset, offset + len(line.rstrip())))
    return [block for block in blocks if block]
