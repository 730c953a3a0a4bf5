"""A judge's accuracy and style scores of one answer, read from its written answer or its choice odds."""

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.embedded_objects import find_literals

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


class Judgement(BaseModel):
    """A judge's scores of one answer against the author's reference answer, with its reason."""

    model_config = ConfigDict(frozen=True)

    # Written scores are whole numbers; scores from choice probabilities are their expected value.
    accuracy: float = Field(ge=1, le=3, description="1 wrong or off topic, 2 partly right, 3 right.")
    style: float = Field(ge=1, le=3, description="1 generic assistant prose, 3 sounds like the author.")
    reason: str = ""


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
    3.0
    """
    for literal in find_literals(text):
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
