"""Splitting cleaned documents into chunks the embedding model takes whole, along paragraphs and sentences."""

import re
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.cleaning import fence_closes, fence_opening
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import Chunk, CleanedDocument

TokenCounter = Callable[[Sequence[str]], list[int]]
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
FIELD_PREFIX = {
    DataCategory.POSTS: "post",
    DataCategory.ARTICLES: "article",
    DataCategory.REPOSITORIES: "repository",
}


class ChunkingConfig(BaseModel):
    """How many tokens a chunk of each category may hold, and how many it repeats from the one before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    post_max_tokens: int = Field(128, gt=0, description="Most tokens in a chunk of a post; posts are short.")
    post_overlap_tokens: int = Field(16, ge=0, description="Trailing-sentence tokens a post chunk repeats.")
    article_max_tokens: int = Field(224, gt=0, description="Most tokens in a chunk of an article.")
    article_overlap_tokens: int = Field(
        32, ge=0, description="Trailing-sentence tokens an article chunk repeats."
    )
    repository_max_tokens: int = Field(254, gt=0, description="Most tokens in a chunk of a source file.")
    repository_overlap_tokens: int = Field(0, ge=0, description="Trailing-line tokens a code chunk repeats.")

    @model_validator(mode="after")
    def _overlap_below_max(self) -> Self:
        for prefix in FIELD_PREFIX.values():
            overlap, most = getattr(self, f"{prefix}_overlap_tokens"), getattr(self, f"{prefix}_max_tokens")
            if overlap >= most:
                raise ValueError(
                    f"{prefix}_overlap_tokens={overlap} must be below {prefix}_max_tokens={most}, "
                    "or a chunk would hold nothing new; lower the overlap or raise the maximum."
                )
        return self

    def budget(self, category: DataCategory, limit: int) -> tuple[int, int]:
        """Max and overlap tokens of a category's chunks under the embedding model's `limit`."""
        if limit < 1:
            raise ValueError(f"The embedding model's token limit must be positive, not {limit}.")
        prefix = FIELD_PREFIX.get(category)
        if prefix is None:
            raise ValueError(f"{category} documents have no text to chunk.")
        most = min(getattr(self, f"{prefix}_max_tokens"), limit)
        return most, min(getattr(self, f"{prefix}_overlap_tokens"), most - 1)


class Piece(NamedTuple):
    """A span of a section's text that is never split further, with its token count."""

    start: int
    end: int
    tokens: int


Draft = tuple[int, list[Piece]]  # a chunk to be: section index and its pieces


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


def _measure(
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
    finer = iter(_measure(finer_units, count_tokens, max_tokens, level + 1))
    for index, spans in zip(over, parts, strict=True):
        pieces[index] = [piece for _ in spans for piece in next(finer)]
    return pieces


def _pack(blocks: list[list[Piece]], max_tokens: int, overlap_tokens: int) -> list[list[Piece]]:
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


def _verified(
    drafts: list[Draft], texts: list[str], count_tokens: TokenCounter, max_tokens: int
) -> list[list[Draft]]:
    """Each draft re-counted whole, since token counts need not add up; one over the max is halved, again."""
    counts = _count(count_tokens, [_text(texts[section], pieces) for section, pieces in drafts])
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
    finer = iter(_verified(halves, texts, count_tokens, max_tokens) if halves else [])
    for index in over:
        checked[index] = next(finer) + next(finer)
    return checked


def _text(text: str, pieces: list[Piece]) -> str:
    return text[pieces[0].start : pieces[-1].end]


def chunk_document(
    document: CleanedDocument, count_tokens: TokenCounter, limit: int, config: ChunkingConfig
) -> list[Chunk]:
    """Chunks of at most the category's max tokens (and `limit`), never crossing sections; at least one.

    `count_tokens` counts the content tokens of each text in a batch, as the embedding model's tokenizer does.
    """
    max_tokens, overlap_tokens = config.budget(document.category, limit)
    split = code_blocks if document.category is DataCategory.REPOSITORIES else prose_blocks
    texts = [section.text for section in document.sections]
    blocks = [split(text) for text in texts]
    units = [
        (text, span) for text, spans in zip(texts, blocks, strict=True) for block in spans for span in block
    ]
    measured = iter(_measure(units, count_tokens, max_tokens))
    drafts: list[Draft] = []
    for section, section_blocks in enumerate(blocks):
        pieces = [[piece for _ in block for piece in next(measured)] for block in section_blocks]
        drafts += [(section, chunk) for chunk in _pack(pieces, max_tokens, overlap_tokens)]
    drafts = [draft for group in _verified(drafts, texts, count_tokens, max_tokens) for draft in group]
    if not drafts:
        return [_chunk(document, 0, document.sections[0].name if document.sections else "", "")]
    return [
        _chunk(document, index, document.sections[section].name, _text(texts[section], pieces))
        for index, (section, pieces) in enumerate(drafts)
    ]


def _chunk(document: CleanedDocument, index: int, section: str, content: str) -> Chunk:
    return Chunk(
        document_id=document.id,
        chunk_index=index,
        section=section,
        content=content,
        category=document.category,
        platform=document.platform,
        author_id=document.author_id,
        author_full_name=document.author_full_name,
        link=document.link,
    )
