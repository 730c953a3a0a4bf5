"""Judge scores and verdicts read out of LLM answers, retrieval metrics, and the rule that promotes models."""

import ast
import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.datasets import MalformedAnswerError

T = TypeVar("T")
PairwiseVerdict = Literal["A", "B", "tie"]
"""What a pairwise judge answers: the first answer shown (A), the second (B), or neither."""
PairwiseOutcome = Literal["candidate", "other", "tie"]

CRITERIA = ("accuracy", "style")
SCORE_WORDS = {"one": 1, "two": 2, "three": 3}
# A criterion's name, then what judges put before its score (quotes, markdown, "score", a range such as
# "(1-3)", ":" or "is"), then the score: "2", "2.0", "two", "2/3" or "2 out of 3", but not a range
# "1-3" that a model copied from the prompt.
SCORE = (
    r"(?<![\w-]){name}(?:[\s_-]*(?:score|rating))?[\s\"'*_]*(?:\([^)\n]{{0,20}}\))?[\s\"'*_]*"
    r"(?:[:=\-\u2013]|\bis\b)?[\s\"'*_]*(?P<value>\d+(?:\.\d+)?|one|two|three)"
    r"(?:\s*(?:/|out of)\s*(?P<scale>\d+))?\b(?!\s*[-\u2013]\s*\d)"
)
SCORE_PATTERNS = {name: re.compile(SCORE.format(name=name), re.IGNORECASE) for name in CRITERIA}
# Small models sometimes answer with the two bare scores first: "3, 2 - right, but generic".
LEADING_PAIR = re.compile(r"^[\s*_#>\"'`]*([1-3])(?:\s*[,;]\s*|\s+and\s+|\s+)([1-3])(?![\w/])")
REASON_LABEL = re.compile(r"\W*(?:reason(?:ing)?|explanation|justification|rationale|comments?)\b", re.I)
REASON = re.compile(
    r"(?:reason(?:ing)?|explanation|justification|rationale)[\"'*_\s]*[:=][\s*_]*(.+)", re.I | re.S
)
SCORE_LINE = re.compile(r"[\W_]*(?:accuracy|style)\b", re.I)
TRAILING_COMMA = re.compile(r",\s*([}\]])")
LOADERS = (json.loads, lambda text: json.loads(TRAILING_COMMA.sub(r"\1", text)), ast.literal_eval)

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


class Judgement(BaseModel):
    """A judge's scores of one answer against the author's reference answer, with its reason."""

    model_config = ConfigDict(frozen=True)

    # Written scores are whole numbers; scores from choice probabilities are their expected value.
    accuracy: float = Field(ge=1, le=3, description="1 wrong or off topic, 2 partly right, 3 right.")
    style: float = Field(ge=1, le=3, description="1 generic assistant prose, 3 sounds like the author.")
    reason: str = ""


def _literal(candidate: str) -> dict[object, object] | None:
    """The object the text spells as JSON or as a Python dict (single quotes, trailing commas), if any."""
    for load in LOADERS:
        try:
            value = load(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue  # not this notation: try the next
        return value if isinstance(value, dict) else None
    return None


def _literals(text: str) -> Iterator[dict[object, object]]:
    """Every object in the text, prose and code fences around it ignored, each from its opening brace."""
    closes = [match.end() for match in re.finditer(r"\}", text)]
    for start in (match.start() for match in re.finditer(r"\{", text)):
        # The shortest span that parses: a brace inside a string or a nested object needs a later close.
        spans = (_literal(text[start:end]) for end in closes if end > start)
        found = next((literal for literal in spans if literal is not None), None)
        if found is not None:
            yield found


def _scores(text: str) -> dict[str, int]:
    """The labelled scores found in the text, by criterion; a score off the 1-3 scale is an error."""
    scores = {}
    for name, pattern in SCORE_PATTERNS.items():
        match = pattern.search(text)
        if match is None:
            continue
        value, scale = match["value"].lower(), match["scale"]
        number = SCORE_WORDS[value] if value in SCORE_WORDS else float(value)
        if (scale is not None and scale != "3") or number not in (1, 2, 3):
            raise MalformedAnswerError(f"The {name} score {match[0].strip()!r} is not 1, 2 or 3 out of 3.")
        scores[name] = int(number)
    return scores


def _reason(text: str) -> str:
    """The labelled reason, up to a score line that may follow it; else the whole answer."""
    match = REASON.search(text)
    if match is None:
        return text.strip()
    lines = []
    for line in match[1].strip().split("\n"):
        if SCORE_LINE.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip().rstrip("}").strip().strip("\"',").strip()


def parse_judgement(text: str) -> Judgement:
    """Accuracy and style scores (1-3) with a reason, from JSON, a Python dict, labelled lines or bare scores.

    Raises MalformedAnswerError when both scores cannot be found, or one is off the 1-3 scale.

    >>> parse_judgement('Sure! ```json\\n{"accuracy": 2, "style": "3/3", "reason": "Close."}\\n```').style
    3
    """
    for literal in _literals(text):
        fields = {str(key): value for key, value in literal.items()}
        scores = _scores("\n".join(f"{key}: {value}" for key, value in fields.items()))
        if len(scores) == len(CRITERIA):
            reason = next((str(v) for k, v in fields.items() if REASON_LABEL.match(k)), text.strip())
            return Judgement(**scores, reason=reason)
    scores = _scores(text)
    if len(scores) == len(CRITERIA):
        return Judgement(**scores, reason=_reason(text))
    pair = LEADING_PAIR.match(text)
    if pair is not None and not scores:
        rest = text[pair.end() :].strip(" \t\n-:.,;")
        return Judgement(accuracy=int(pair[1]), style=int(pair[2]), reason=rest or text.strip())
    missing = " and ".join(name for name in CRITERIA if name not in scores)
    raise MalformedAnswerError(f"No {missing} score (1-3) in the judge's answer: {text[:80]!r}.")


SCORE_CHOICES = ("1", "2", "3")


def expected_score(probabilities: Mapping[str, float]) -> float:
    """The probability-weighted score over the choices "1", "2" and "3".

    >>> expected_score({"1": 0.5, "2": 0.0, "3": 0.5})
    2.0
    """
    if set(probabilities) != set(SCORE_CHOICES) or any(p < 0 for p in probabilities.values()):
        raise ValueError(f"Expected probabilities of {SCORE_CHOICES}, got {dict(probabilities)}.")
    total = sum(probabilities.values())
    if total <= 0:
        raise ValueError("The score probabilities sum to zero.")
    return sum(int(choice) * p for choice, p in probabilities.items()) / total


def judgement_from_choices(accuracy: Mapping[str, float], style: Mapping[str, float]) -> Judgement:
    """A judgement whose scores are the expected values of a judge's choice probabilities per criterion."""
    shown = "; ".join(
        f"{name} " + " ".join(f"p({c})={probabilities[c]:.2f}" for c in SCORE_CHOICES)
        for name, probabilities in (("accuracy", accuracy), ("style", style))
    )
    return Judgement(
        accuracy=expected_score(accuracy),
        style=expected_score(style),
        reason=f"choice probabilities: {shown}",
    )


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
    for literal in _literals(text):
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


def _check_queries(ranked_ids: Sequence[Sequence[str]], relevant: Sequence[str]) -> None:
    if not relevant or len(ranked_ids) != len(relevant):
        raise ValueError(
            f"Need one ranking per query and at least one query, got {len(ranked_ids)} rankings "
            f"for {len(relevant)} relevant ids."
        )


def hit_at_k(ranked_ids: Sequence[Sequence[str]], relevant: Sequence[str], k: int) -> float:
    """Share of queries whose one relevant id is among their first `k` results."""
    _check_queries(ranked_ids, relevant)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    return sum(target in ranked[:k] for ranked, target in zip(ranked_ids, relevant, strict=True)) / len(
        relevant
    )


def mean_reciprocal_rank(ranked_ids: Sequence[Sequence[str]], relevant: Sequence[str]) -> float:
    """Mean of 1/rank of each query's relevant id (0 where it was not retrieved)."""
    _check_queries(ranked_ids, relevant)
    ranks = [
        list(ranked).index(t) + 1 if t in ranked else None
        for ranked, t in zip(ranked_ids, relevant, strict=True)
    ]
    return sum(1 / rank for rank in ranks if rank is not None) / len(relevant)


class ModelScores(BaseModel):
    """How one model did on the test split: judge means, reference overlap, and answer length."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(description="Label of the model in this evaluation, e.g. candidate or production.")
    judge_accuracy: float = Field(ge=1, le=3, description="Mean judge accuracy over the judged answers.")
    judge_style: float = Field(ge=1, le=3, description="Mean judge style over the judged answers.")
    win_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Pairwise wins against production (a tie counts half); None without one.",
    )
    rouge_l: float = Field(ge=0, le=1, description="Mean ROUGE-L F-measure against the author's answers.")
    bleu: float = Field(ge=0, le=1, description="Corpus BLEU against the author's answers, from 0 to 1.")
    answer_words: float = Field(ge=0, description="Mean answer length in words.")
    samples: int = Field(ge=0, description="Test samples answered.")
    judged: int = Field(ge=0, description="Answers the judge scored; the rest never gave a readable score.")

    @property
    def judge_score(self) -> float:
        """Accuracy and style averaged: the number promotion compares."""
        return (self.judge_accuracy + self.judge_style) / 2


class PromotionDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    promote: bool
    reason: str


def _describe(scores: ModelScores) -> str:
    return f"judge {scores.judge_score:.3f}, ROUGE-L {scores.rouge_l:.3f}, BLEU {scores.bleu:.3f}"


def decide_promotion(
    candidate: ModelScores, production: ModelScores | None, tolerance: float
) -> PromotionDecision:
    """Promote when there is no production model, or when the candidate's judge score beats production's
    and neither ROUGE-L nor BLEU drops by more than `tolerance` (absolute)."""
    if production is None:
        return PromotionDecision(
            promote=True, reason=f"No production model yet; candidate: {_describe(candidate)}."
        )
    problems = []
    if candidate.judge_score <= production.judge_score:
        problems.append(f"judge score {candidate.judge_score:.3f} does not beat {production.judge_score:.3f}")
    for name, new, old in (
        ("ROUGE-L", candidate.rouge_l, production.rouge_l),
        ("BLEU", candidate.bleu, production.bleu),
    ):
        if old - new > tolerance + 1e-12:  # the epsilon keeps a drop of exactly `tolerance` allowed
            problems.append(f"{name} drops from {old:.3f} to {new:.3f}, more than {tolerance:.3f}")
    verdict = "; ".join(problems) if problems else f"beats production within tolerance {tolerance:.3f}"
    return PromotionDecision(
        promote=not problems,
        reason=f"Candidate ({_describe(candidate)}) vs production ({_describe(production)}): {verdict}.",
    )
