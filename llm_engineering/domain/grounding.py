"""Grounding of a sourced answer: its claims, the passages each cites, and how many the passages support."""

import re
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.fences import fence_closes, fence_opening
from llm_engineering.domain.retrieval import words
from llm_engineering.domain.segmentation import sentence_spans

# [1], [1, 2], [1-3], [1,3-4], [Passage 2]: the ways models write the prompt's "[1], [2]".
MARKER = re.compile(
    r"\[\s*(?:(?:passages?|sources?)\s*)?(\d+(?:\s*(?:[-\u2013,;]|and)\s*\d+)*)\s*\]", re.IGNORECASE
)
LEADING_MARKERS = re.compile(rf"(?:\s*{MARKER.pattern})+\s*", re.IGNORECASE)
# "works.[2] Next": a space after the sentence end, so that the splitter sees the end.
GLUED_MARKER = re.compile(r"([.!?])(?=\[\s*\d)")
LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+\u2022>]|#{1,6}|\d{1,3}[.)])[ \t]+")
SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
WORD = re.compile(r"\w+")
MIN_CLAIM_WORDS = 4
# A range wider than this is not a citation a model meant ("[2019-2024]"); only its ends are kept.
MAX_RANGE = 20
# Function words, left out of content-word overlap: they match between any two English sentences.
STOPWORDS = frozenset(
    "a about after all also an and any are as at be because been before being but by can could did do does "
    "doing each for from had has have having he her here hers him his how i if in into is it its itself just "
    "me more most my no nor not of off on once only or other our ours out over own same she should so some "
    "such than that the their theirs them then there these they this those through to too under until up "
    "very was we were what when where which while who whom why will with would you your yours".split()
)


class Claim(BaseModel):
    """One statement of an answer, without its citation markers, and the passages it cites (1-based)."""

    model_config = ConfigDict(frozen=True)

    text: str
    cited: tuple[int, ...] = ()


def cited_numbers(marker_body: str) -> list[int]:
    """The passage numbers inside one marker's brackets.

    >>> cited_numbers("1, 3-5")
    [1, 3, 4, 5]
    """
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|\band\b)\s*", marker_body.replace("\u2013", "-")):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if abs(last - first) > MAX_RANGE:
            numbers += [first, last]
        else:
            numbers += range(min(first, last), max(first, last) + 1)
    return numbers


def _claim(sentence: str, cited: Sequence[int]) -> Claim:
    text = SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(MARKER.sub(" ", sentence).split()))
    numbers = [n for marker in MARKER.finditer(sentence) for n in cited_numbers(marker[1])]
    return Claim(text=text, cited=tuple(sorted({*cited, *numbers})))


def _prose_lines(answer: str) -> list[str]:
    """The answer's lines outside fenced code (code states nothing a passage can support), without list
    bullets, numbers or heading marks."""
    lines, fence = [], None
    for line in answer.split("\n"):
        if fence is not None:
            fence = None if fence_closes(line, fence) else fence
        elif (fence := fence_opening(line)) is None:
            lines.append(GLUED_MARKER.sub(r"\1 ", LIST_MARKER.sub("", line, count=1)))
    return lines


def answer_claims(answer: str) -> list[Claim]:
    """The answer's sentences of at least four words, each with the passages it cites.

    A marker standing after a sentence's end ("… works. [2]") belongs to that sentence.

    >>> [c.cited for c in answer_claims("Chunks overlap by 64 tokens [1]. Qdrant keeps the vectors. [2] Ok.")]
    [(1,), (2,)]
    """
    sentences: list[tuple[str, list[int]]] = []
    for line in _prose_lines(answer):
        for position, (start, end) in enumerate(sentence_spans(line, 0, len(line))):
            sentence = line[start:end]
            leading = LEADING_MARKERS.match(sentence)
            # Markers opening a sentence that follows another, or alone on their line, close the previous one.
            if leading and sentences and (position > 0 or leading.end() == len(sentence)):
                sentences[-1][1].extend(n for m in MARKER.finditer(leading[0]) for n in cited_numbers(m[1]))
                sentence = sentence[leading.end() :]
            sentences.append((sentence, []))
    claims = [_claim(sentence, cited) for sentence, cited in sentences]
    return [claim for claim in claims if len(WORD.findall(claim.text)) >= MIN_CLAIM_WORDS]


def content_words(text: str) -> set[str]:
    """Crude stems of the text's words other than function words: plural and verb endings cut, then the
    first six letters, so that "embeddings", "embedded" and "embedding" meet.

    >>> sorted(content_words("The pipelines embedded their chunks"))
    ['chunk', 'embedd', 'pipeli']
    """
    return {_stem(word) for word in words(text) if word not in STOPWORDS}


def _stem(word: str) -> str:
    for suffix in ("ings", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)][:6]
    return word[:6]


def word_overlap(statement: str, passage: str) -> float:
    """The share of the statement's content words that the passage also uses (1.0 for a statement without
    any)."""
    stated = content_words(statement)
    return len(stated & content_words(passage)) / len(stated) if stated else 1.0


SUPPORT_CHOICES = ("Yes", "No")
VERDICT_WORDS = {"yes": True, "true": True, "no": False, "false": False}


def parse_support(text: str) -> bool:
    """Whether a judge's answer says the passage supports the statement: its first word when that is yes or
    no (or true/false), else the one of them it uses.

    Raises MalformedAnswerError when it says neither, or both without leading with one.

    >>> parse_support("**No.** The passage never mentions Kafka.")
    False
    """
    found = words(text)
    if found and found[0] in VERDICT_WORDS:
        return VERDICT_WORDS[found[0]]
    verdicts = {VERDICT_WORDS[word] for word in found if word in VERDICT_WORDS}
    if len(verdicts) != 1:
        raise MalformedAnswerError(f"No yes or no in the judge's answer: {text[:80]!r}.")
    return verdicts.pop()


def support_from_choices(probabilities: Mapping[str, float]) -> bool:
    """Whether "Yes" is likelier than "No"."""
    return probabilities["Yes"] > probabilities["No"]


class AnswerGrounding(BaseModel):
    """How well one answer's claims are backed by the passages its prompt gave it."""

    model_config = ConfigDict(frozen=True)

    claims: int = Field(ge=0, description="Sentences of at least four words.")
    cited_claims: int = Field(ge=0, description="Claims citing at least one passage.")
    supported_citations: int = Field(
        ge=0, description="Cited claims that one of the passages they cite supports."
    )
    unsupported_claims: int = Field(ge=0, description="Claims that no passage of the prompt supports.")

    @model_validator(mode="after")
    def _counts_nest(self) -> "AnswerGrounding":
        if not (self.supported_citations <= self.cited_claims <= self.claims) or (
            self.unsupported_claims > self.claims
        ):
            raise ValueError(f"Counts must nest (supported ≤ cited ≤ claims, unsupported ≤ claims): {self}")
        return self

    @property
    def citation_precision(self) -> float | None:
        """The share of cited claims whose citation holds; None when the answer cites nothing."""
        return self.supported_citations / self.cited_claims if self.cited_claims else None

    @property
    def unsupported_share(self) -> float | None:
        """The share of claims no passage supports; None for an answer without claims."""
        return self.unsupported_claims / self.claims if self.claims else None


def grade_answer(claims: Sequence[Claim], support: Sequence[Sequence[bool]]) -> AnswerGrounding:
    """The grounding counts, given whether each passage supports each claim (`support[claim][passage]`,
    passages in prompt order); a citation outside the passages supports nothing."""
    if len(support) != len(claims):
        raise ValueError(f"Need one row of support per claim: {len(claims)} claims, {len(support)} rows.")
    cited = [(claim, row) for claim, row in zip(claims, support, strict=True) if claim.cited]
    return AnswerGrounding(
        claims=len(claims),
        cited_claims=len(cited),
        supported_citations=sum(
            any(row[n - 1] for n in claim.cited if 1 <= n <= len(row)) for claim, row in cited
        ),
        unsupported_claims=sum(not any(row) for row in support),
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class GroundingSummary(BaseModel):
    """Grounding over many answers: per-answer values (to bootstrap over later) and their means."""

    model_config = ConfigDict(frozen=True)

    answers: tuple[AnswerGrounding, ...]

    @property
    def citation_precisions(self) -> list[float]:
        """Citation precision of each answer that cites anything, in answer order."""
        return [a.citation_precision for a in self.answers if a.citation_precision is not None]

    @property
    def unsupported_shares(self) -> list[float]:
        """Unsupported share of each answer that states anything, in answer order."""
        return [a.unsupported_share for a in self.answers if a.unsupported_share is not None]

    @property
    def mean_citation_precision(self) -> float | None:
        return _mean(self.citation_precisions)

    @property
    def mean_unsupported_share(self) -> float | None:
        return _mean(self.unsupported_shares)

    def metrics(self) -> dict[str, float]:
        """The means and how many answers each covers, by name, for step metadata; a mean over no answer
        is left out."""
        means = {
            "citation_precision": self.mean_citation_precision,
            "unsupported_share": self.mean_unsupported_share,
        }
        counts = {
            "answers": len(self.answers),
            "answers_citing": len(self.citation_precisions),
            "answers_stating": len(self.unsupported_shares),
        }
        return {**{k: v for k, v in means.items() if v is not None}, **counts}
