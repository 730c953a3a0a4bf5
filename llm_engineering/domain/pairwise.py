"""Pairwise judging: which of two answers a judge prefers, shown in a shuffled order, and the win rate."""

import random
import re
from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.embedded_objects import find_literals

T = TypeVar("T")
PairwiseVerdict = Literal["A", "B", "tie"]
"""What a pairwise judge answers: the first answer shown (A), the second (B), or neither."""
PairwiseOutcome = Literal["candidate", "other", "tie"]


CHOICE = r"(?:(?i:answer|response|option)\s+)?(?P<choice>A|B)"
END = r"(?=\s*(?:\n|$|[.,:;!)\]*\"'`-]|(?i:is|was|as|wins|because|since|over)\b))"
VERDICT_PATTERNS = (
    re.compile(
        r"(?i:winner|verdict|better answer|preferred answer|preference|choice|answer)\W{0,3}:\s*[*\"'`]*\s*"
        r"(?:(?i:answer|response|option)\s+)?(?P<choice>A|B|a|b|(?i:tie|draw))(?![\w'])"
    ),
    re.compile(r"^[\s*_#>\"'`(\[]*" + CHOICE + END),
    re.compile(r"^[\s*_#>\"'`(\[]*(?P<choice>(?i:tie|draw))\b"),
    re.compile(CHOICE + r"\s+(?i:is|was|seems|reads)\s+(?i:better|stronger|preferable|closer|more)\b"),
    re.compile(r"(?i:prefer|choose|pick|select|better answer is|better one is)\s+" + CHOICE + END),
    re.compile(r"\b(?P<choice>(?i:tie|equally|neither))\b"),
)
MENTION = re.compile(r"(?i:answer|response|option)\s+(A|B)(?![\w'])")


def verdict_from_choices(probabilities: Mapping[str, float]) -> PairwiseVerdict:
    """The likelier of "A" and "B"; equal probabilities are a tie."""
    a, b = probabilities["A"], probabilities["B"]
    return "tie" if a == b else "A" if a > b else "B"


def _verdict(word: str) -> PairwiseVerdict:
    choice = word.upper()
    return "A" if choice == "A" else "B" if choice == "B" else "tie"


def parse_pairwise(text: str) -> PairwiseVerdict:
    """Which of two answers a judge prefers, "A", "B" or "tie", read from JSON, a label or a phrase.

    Raises MalformedAnswerError when the answer names neither or both without saying which is better.

    >>> parse_pairwise("**Answer B** is better: it keeps the author's short sentences.")
    'B'
    """
    for literal in find_literals(text):
        for key, value in literal.items():
            if str(key).lower() in {"winner", "verdict", "better", "choice", "preferred", "answer"}:
                return parse_pairwise(str(value))
    for pattern in VERDICT_PATTERNS:
        match = pattern.search(text)
        if match is not None:
            return _verdict(match["choice"])
    mentioned = set(MENTION.findall(text))
    if len(mentioned) == 1:
        return _verdict(mentioned.pop())
    if re.fullmatch(r"\W*([abAB])\W*", text):
        return _verdict(text.strip(" \t\n.*\"'`"))
    raise MalformedAnswerError(f"No verdict (A, B or tie) in the judge's answer: {text[:80]!r}.")


def order_pair(candidate: T, other: T, rng: random.Random) -> tuple[T, T, bool]:
    """The two answers in a random order, and whether they were swapped, since judges favour a position."""
    swapped = rng.random() < 0.5
    return (other, candidate, True) if swapped else (candidate, other, False)


def pairwise_outcome(verdict: PairwiseVerdict, swapped: bool) -> PairwiseOutcome:
    """Map a verdict on the shown order back to the candidate or the other model."""
    if verdict == "tie":
        return "tie"
    return "candidate" if (verdict == "A") != swapped else "other"


def win_rate(outcomes: Sequence[PairwiseOutcome]) -> float:
    """The candidate's share of wins, a tie counting half."""
    if not outcomes:
        raise ValueError("A win rate needs at least one judged pair.")
    return sum(1.0 if o == "candidate" else 0.5 if o == "tie" else 0.0 for o in outcomes) / len(outcomes)
