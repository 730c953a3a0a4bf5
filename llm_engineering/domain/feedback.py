"""Which users' 👍/👎 become DPO preference pairs: paired, deduplicated, capped per source and question.

Caps keep the oldest pairs first (ties by trace id): feedback added later never displaces a pair an earlier
run trained on, and a client who floods the service later cannot push out what others said before.
"""

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

UNKNOWN_SOURCE = "unknown"
"""The source of feedback stored before sources were recorded; it is capped as one client."""

DropReason = Literal[
    "no_counterpart",
    "empty_answer",
    "same_text",
    "duplicate",
    "source_cap",
    "question_cap",
    "below_min_pairs",
]


class FeedbackRules(BaseModel):
    """How much of the users' feedback a training run may learn from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_pairs: int = Field(
        5,
        ge=1,
        description="Fewer usable pairs than this and none is used: a handful is noise, not a signal.",
    )
    max_per_source: int = Field(
        20,
        gt=0,
        description="Most pairs one client (the `source` the service hashed) may contribute; a pair made of "
        "a 👍 and a 👎 counts against both clients.",
    )
    max_per_question: int = Field(
        3,
        gt=0,
        description="Most pairs on one question (normalised), so one question asked over and over "
        "cannot dominate.",
    )


class RatedAnswer(BaseModel):
    """The latest verdict on one served answer, next to the question and the answer it judged."""

    model_config = ConfigDict(frozen=True)

    trace_id: str = Field(description="The answer's id, the one its feedback names.")
    question: str
    answer: str
    rating: Literal["up", "down"]
    correction: str | None = None
    source: str = UNKNOWN_SOURCE
    created_at: datetime = Field(description="When the verdict was given.")


class FeedbackPreference(BaseModel):
    """A DPO pair learnt from feedback, with the answers it came from."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    chosen: str
    rejected: str
    trace_ids: tuple[str, ...] = Field(
        min_length=1, description="The 👎 answer's trace, then the 👍 answer's when that is the chosen one."
    )
    sources: frozenset[str] = Field(description="Who gave the verdicts; the pair counts against each.")
    created_at: datetime = Field(description="When the 👎 verdict was given.")


class FeedbackReport(BaseModel):
    """What became of the feedback: every 👎 verdict is either kept as a pair or dropped for one reason."""

    model_config = ConfigDict(frozen=True)

    rated: int = Field(ge=0, description="Answers with a verdict, 👍 and 👎.")
    down: int = Field(ge=0, description="Answers rated 👎: kept plus dropped.")
    kept: int = Field(ge=0)
    dropped: dict[DropReason, int] = Field(description="Pairs (or 👎 verdicts) dropped, by reason.")
    reason: str | None = Field(None, description="Why no pair is used, when none is.")
    trace_ids: list[str] = Field(default_factory=list, description="The traces of the kept pairs.")


def feedback_source(identity: str, salt: str) -> str:
    """A short salted hash naming a client without keeping its key or address."""
    return hashlib.sha256(f"{salt}\0{identity}".encode()).hexdigest()[:16]


def normalise(text: str) -> str:
    """Text as compared for pairing and duplicates: case-folded, punctuation and spacing ignored.

    >>> normalise("  How do you   CHUNK? ")
    'how do you chunk'
    """
    spaced = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text.casefold())
    return re.sub(r"\s+", " ", spaced).strip()


def _by_time(rated: RatedAnswer) -> tuple[datetime, str]:
    return rated.created_at, rated.trace_id


def _candidates(rated: list[RatedAnswer], dropped: Counter[DropReason]) -> list[FeedbackPreference]:
    """One candidate pair per 👎, oldest first: its correction, else the newest 👍 answer to the question."""
    ordered = sorted(rated, key=_by_time)
    liked = {normalise(r.question): r for r in ordered if r.rating == "up" and r.answer.strip()}
    pairs = []
    for down in (r for r in ordered if r.rating == "down"):
        counterpart = liked.get(normalise(down.question))
        if not down.answer.strip():
            dropped["empty_answer"] += 1  # a blocked or failed answer is nothing to prefer against
        elif down.correction and down.correction.strip():
            pairs.append(_pair(down, down.correction, None))
        elif counterpart is not None:
            pairs.append(_pair(down, counterpart.answer, counterpart))
        else:
            dropped["no_counterpart"] += 1
    return pairs


def _pair(down: RatedAnswer, chosen: str, liked: RatedAnswer | None) -> FeedbackPreference:
    more = [liked] if liked else []
    return FeedbackPreference(
        prompt=down.question,
        chosen=chosen,
        rejected=down.answer,
        trace_ids=(down.trace_id, *(r.trace_id for r in more)),
        sources=frozenset([down.source, *(r.source for r in more)]),
        created_at=down.created_at,
    )


def _within_caps(
    candidates: list[FeedbackPreference], rules: FeedbackRules, dropped: Counter[DropReason]
) -> list[FeedbackPreference]:
    """Drops pairs without a real preference and repeats, then keeps pairs in order while under the caps."""
    seen: set[tuple[str, str, str]] = set()
    per_source: Counter[str] = Counter()
    per_question: Counter[str] = Counter()
    kept = []
    for pair in candidates:
        key = (normalise(pair.prompt), normalise(pair.chosen), normalise(pair.rejected))
        reason: DropReason | None = None
        if key[1] == key[2]:
            reason = "same_text"
        elif key in seen:
            reason = "duplicate"
        elif any(per_source[source] >= rules.max_per_source for source in pair.sources):
            reason = "source_cap"
        elif per_question[key[0]] >= rules.max_per_question:
            reason = "question_cap"
        if reason:
            dropped[reason] += 1
            continue
        seen.add(key)
        per_source.update(pair.sources)
        per_question[key[0]] += 1
        kept.append(pair)
    return kept


def pair_feedback(
    rated: Iterable[RatedAnswer], rules: FeedbackRules
) -> tuple[list[FeedbackPreference], FeedbackReport]:
    """The pairs a run may learn from, oldest first, and a report of what was dropped and why."""
    answers = list(rated)
    dropped: Counter[DropReason] = Counter()
    kept = _within_caps(_candidates(answers, dropped), rules, dropped)
    note = None
    if len(kept) < rules.min_pairs:
        dropped["below_min_pairs"] += len(kept)
        note = f"{len(kept)} usable feedback pairs, fewer than min_pairs={rules.min_pairs}; none is used."
        kept = []
    report = FeedbackReport(
        rated=len(answers),
        down=sum(r.rating == "down" for r in answers),
        kept=len(kept),
        dropped={reason: dropped[reason] for reason in get_args(DropReason)},
        reason=note,
        trace_ids=list(dict.fromkeys(trace_id for pair in kept for trace_id in pair.trace_ids)),
    )
    return kept, report
