"""Measuring text spans in tokens and packing them greedily into chunks under a token budget."""

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from llm_engineering.domain.segmentation import Span

TokenCounter = Callable[[Sequence[str]], list[int]]


class Piece(NamedTuple):
    """A span of a section's text that is never split further, with its token count."""

    start: int
    end: int
    tokens: int


Draft = tuple[int, list[Piece]]  # a chunk to be: section index and its pieces


def _count(count_tokens: TokenCounter, texts: list[str]) -> list[int]:
    if not texts:
        return []
    counts = count_tokens(texts)
    if len(counts) != len(texts):
        raise ValueError(
            f"count_tokens gave {len(counts)} counts for {len(texts)} texts; it must give one each."
        )
    return counts


def _split(text: str, span: Span, tokens: int, max_tokens: int, level: int) -> list[Span]:
    """Words first; then slices of characters sized to come in under the max if tokens grow with length."""
    start, end = span
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    if level == 0 and len(words) > 1:
        return words
    if end - start == 1:
        raise ValueError(f"{text[start:end]!r} alone counts {tokens} tokens, over the {max_tokens} allowed.")
    size = max(1, min(end - start - 1, (end - start) * max_tokens // tokens))
    return [(index, min(index + size, end)) for index in range(start, end, size)]


def measure(
    units: list[tuple[str, Span]], count_tokens: TokenCounter, max_tokens: int, level: int = 0
) -> list[list[Piece]]:
    """Count all units in one batch; one over `max_tokens` is split into words, a word into slices."""
    counts = _count(count_tokens, [text[start:end] for text, (start, end) in units])
    pieces = [[Piece(start, end, n)] for (_, (start, end)), n in zip(units, counts, strict=True)]
    over = [index for index, n in enumerate(counts) if n > max_tokens]
    if not over:
        return pieces
    parts = [_split(*units[index], counts[index], max_tokens, level) for index in over]
    finer_units = [(units[i][0], span) for i, spans in zip(over, parts, strict=True) for span in spans]
    finer = iter(measure(finer_units, count_tokens, max_tokens, level + 1))
    for index, spans in zip(over, parts, strict=True):
        pieces[index] = [piece for _ in spans for piece in next(finer)]
    return pieces


def pack(blocks: list[list[Piece]], max_tokens: int, overlap_tokens: int) -> list[list[Piece]]:
    """Greedy packing; a block that fits a chunk is not split, and a new chunk repeats the last pieces."""
    chunks: list[list[Piece]] = []
    current: list[Piece] = []
    used = carried = 0  # tokens in `current`; how many of its pieces repeat the previous chunk
    for block in blocks:
        size = sum(piece.tokens for piece in block)
        for index, piece in enumerate(block):
            incoming = size if index == 0 and size <= max_tokens else piece.tokens
            if len(current) > carried and used + incoming > max_tokens:
                chunks.append(current)
                current = _overlap(current, min(overlap_tokens, max_tokens - incoming))
                used, carried = sum(p.tokens for p in current), len(current)
            current.append(piece)
            used += piece.tokens
    return [*chunks, current] if len(current) > carried else chunks


def _overlap(pieces: list[Piece], budget: int) -> list[Piece]:
    """The trailing pieces that fit in `budget` tokens."""
    taken = 0
    for start in range(len(pieces), 0, -1):
        taken += pieces[start - 1].tokens
        if taken > budget:
            return pieces[start:]
    return pieces


def verify(
    drafts: list[Draft], texts: list[str], count_tokens: TokenCounter, max_tokens: int
) -> list[list[Draft]]:
    """Each draft re-counted whole, since token counts need not add up; one over the max is halved, again."""
    counts = _count(count_tokens, [covered_text(texts[section], pieces) for section, pieces in drafts])
    checked = [[draft] for draft in drafts]
    over = [index for index, n in enumerate(counts) if n > max_tokens]
    halves: list[Draft] = []
    for index in over:
        section, pieces = drafts[index]
        if len(pieces) == 1:
            raise ValueError(
                f"count_tokens gave {counts[index]} tokens for a text it counted as fewer before."
            )
        halves += [(section, pieces[: len(pieces) // 2]), (section, pieces[len(pieces) // 2 :])]
    finer = iter(verify(halves, texts, count_tokens, max_tokens) if halves else [])
    for index in over:
        checked[index] = next(finer) + next(finer)
    return checked


def covered_text(text: str, pieces: list[Piece]) -> str:
    """The stretch of `text` from the first piece to the last, with what lies between them."""
    return text[pieces[0].start : pieces[-1].end]
