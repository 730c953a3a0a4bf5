"""The feedback rules: which 👍/👎 become DPO pairs, and why the others were dropped."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from llm_engineering.domain.feedback import (
    FeedbackRules,
    RatedAnswer,
    feedback_source,
    normalise,
    pair_feedback,
)

T0 = datetime(2025, 5, 4, 12, 0, tzinfo=UTC)
Q = "How do you chunk documents?"


def rated(trace_id: str, rating: str, answer: str, **fields: Any) -> RatedAnswer:
    """A verdict given `minute` minutes after T0 (default: the number in its trace id)."""
    minute = fields.pop("minute", int("".join(filter(str.isdigit, trace_id)) or 0))
    defaults = {"question": Q, "source": "s1", "created_at": T0 + timedelta(minutes=minute)}
    return RatedAnswer(trace_id=trace_id, rating=rating, answer=answer, **(defaults | fields))


def down(trace_id: str, answer: str, correction: str | None = None, **fields: Any) -> RatedAnswer:
    return rated(trace_id, "down", answer, correction=correction, **fields)


def up(trace_id: str, answer: str, **fields: Any) -> RatedAnswer:
    return rated(trace_id, "up", answer, **fields)


# Each case: verdicts, rules (besides min_pairs=1), the pairs kept as (chosen, rejected, trace ids), and the
# non-zero drop counts.
CASES = {
    "correction-is-chosen": (
        [down("t1", "It depends.", "By paragraph.")],
        {},
        [("By paragraph.", "It depends.", ("t1",))],
        {},
    ),
    "liked-answer-is-chosen": (
        [up("t1", "By paragraph."), down("t2", "It depends.")],
        {},
        [("By paragraph.", "It depends.", ("t2", "t1"))],
        {},
    ),
    "questions-pair-across-case-spacing-punctuation": (
        [up("t1", "By paragraph.", question="how do you  CHUNK documents"), down("t2", "It depends.")],
        {},
        [("By paragraph.", "It depends.", ("t2", "t1"))],
        {},
    ),
    "the-newest-liked-answer-is-chosen": (
        [up("t1", "By sentence."), up("t3", "By paragraph."), down("t2", "It depends.")],
        {},
        [("By paragraph.", "It depends.", ("t2", "t3"))],
        {},
    ),
    "a-correction-wins-over-a-liked-answer": (
        [up("t1", "By sentence."), down("t2", "It depends.", "By paragraph.")],
        {},
        [("By paragraph.", "It depends.", ("t2",))],
        {},
    ),
    "no-correction-no-counterpart": ([down("t1", "It depends.")], {}, [], {"no_counterpart": 1}),
    "a-blank-correction-is-none": ([down("t1", "It depends.", "  ")], {}, [], {"no_counterpart": 1}),
    "a-liked-answer-to-another-question-is-no-counterpart": (
        [up("t1", "Daily.", question="How often do you post?"), down("t2", "It depends.")],
        {},
        [],
        {"no_counterpart": 1},
    ),
    "a-blocked-answer-is-nothing-to-prefer-against": (
        [down("t1", "", "By paragraph.")],
        {},
        [],
        {"empty_answer": 1},
    ),
    "a-blocked-answer-is-never-chosen": (
        [up("t1", ""), down("t2", "It depends.")],
        {},
        [],
        {"no_counterpart": 1},
    ),
    "a-correction-equal-to-the-answer": (
        [down("t1", "By paragraph.", "by  paragraph")],
        {},
        [],
        {"same_text": 1},
    ),
    "a-liked-answer-equal-to-the-disliked-one": (
        [up("t1", "It depends."), down("t2", "It depends!")],
        {},
        [],
        {"same_text": 1},
    ),
    "duplicates-keep-the-oldest": (
        [
            down("t2", "It depends.", "By paragraph!", question="how do you chunk documents"),
            down("t1", "It depends.", "By paragraph."),
        ],
        {},
        [("By paragraph.", "It depends.", ("t1",))],
        {"duplicate": 1},
    ),
    "the-source-cap-keeps-the-oldest": (
        [
            down("t3", "a3", "c3", question="q3"),
            down("t1", "a1", "c1", question="q1"),
            down("t2", "a2", "c2", question="q2"),
            down("t4", "a4", "c4", question="q4", source="s2"),
        ],
        {"max_per_source": 2},
        [("c1", "a1", ("t1",)), ("c2", "a2", ("t2",)), ("c4", "a4", ("t4",))],
        {"source_cap": 1},
    ),
    "a-liked-and-disliked-pair-counts-against-both-sources": (
        [
            up("t1", "u1", question="q1", source="s2"),
            down("t2", "d2", question="q1"),
            down("t3", "d3", "c3", question="q3", source="s2"),
        ],
        {"max_per_source": 1},
        [("u1", "d2", ("t2", "t1"))],
        {"source_cap": 1},
    ),
    "the-question-cap-keeps-the-oldest": (
        [down(f"t{n}", f"a{n}", f"c{n}", source=f"s{n}") for n in (3, 1, 2)],
        {"max_per_question": 2},
        [("c1", "a1", ("t1",)), ("c2", "a2", ("t2",))],
        {"question_cap": 1},
    ),
    "too-few-pairs-are-all-dropped": (
        [down("t1", "a1", "c1", question="q1"), down("t2", "a2", "c2", question="q2"), down("t3", "a3")],
        {"min_pairs": 3},
        [],
        {"below_min_pairs": 2, "no_counterpart": 1},
    ),
    "exactly-the-minimum-is-used": (
        [down("t1", "a1", "c1", question="q1"), down("t2", "a2", "c2", question="q2")],
        {"min_pairs": 2},
        [("c1", "a1", ("t1",)), ("c2", "a2", ("t2",))],
        {},
    ),
}


@pytest.mark.parametrize(("verdicts", "rules", "kept", "dropped"), CASES.values(), ids=CASES.keys())
def test_feedback_becomes_pairs_by_the_rules(
    verdicts: list[RatedAnswer],
    rules: dict[str, int],
    kept: list[tuple[str, str, tuple[str, ...]]],
    dropped: dict[str, int],
) -> None:
    pairs, report = pair_feedback(verdicts, FeedbackRules(**({"min_pairs": 1} | rules)))
    assert [(pair.chosen, pair.rejected, pair.trace_ids) for pair in pairs] == kept
    assert {reason: count for reason, count in report.dropped.items() if count} == dropped
    assert report.kept == len(kept) and report.rated == len(verdicts)
    assert report.kept + sum(report.dropped.values()) == report.down  # every 👎 is accounted for
    assert report.trace_ids == list(dict.fromkeys(i for _, _, ids in kept for i in ids))
    assert (report.reason is not None) == (not kept)  # the report says why nothing is used


def test_a_pair_keeps_the_disliked_question_and_its_sources() -> None:
    verdicts = [
        up("t1", "By paragraph.", question="HOW do you chunk documents", source="s2"),
        down("t2", "It depends."),
    ]
    [pair], _ = pair_feedback(verdicts, FeedbackRules(min_pairs=1))
    assert (pair.prompt, pair.sources, pair.created_at) == (Q, {"s1", "s2"}, T0 + timedelta(minutes=2))


def test_the_outcome_does_not_depend_on_the_order_verdicts_come_in() -> None:
    verdicts = [
        down(f"t{n}", f"a{n}", f"c{n % 4}", source=f"s{n % 3}", question=f"q{n % 5}") for n in range(40)
    ]
    verdicts += [up(f"t{n}", f"liked {n}", source="s9", question=f"q{n % 5}") for n in range(40, 45)]
    rules = FeedbackRules(min_pairs=1, max_per_source=4, max_per_question=3)
    expected = pair_feedback(verdicts, rules)
    random.Random(0).shuffle(verdicts)
    assert pair_feedback(verdicts, rules) == expected


def test_the_report_explains_an_unused_minimum() -> None:
    pairs, report = pair_feedback([down("t1", "a1", "c1")], FeedbackRules())
    assert pairs == [] and report.reason is not None and "min_pairs=5" in report.reason
    assert report.trace_ids == []


def test_rules_have_defaults_descriptions_and_refuse_nonsense() -> None:
    rules = FeedbackRules()
    assert (rules.min_pairs, rules.max_per_source, rules.max_per_question) == (5, 20, 3)
    assert all(field.description for field in FeedbackRules.model_fields.values())
    for bad in ({"min_pairs": 0}, {"max_per_source": 0}, {"max_per_question": -1}, {"max_per_sorce": 3}):
        with pytest.raises(ValidationError):
            FeedbackRules.model_validate(bad)


def test_normalise_ignores_case_spacing_and_punctuation() -> None:
    assert normalise("  How do you   CHUNK? ") == normalise("how do you chunk") == "how do you chunk"
    assert normalise("Don't") == normalise("don t") != normalise("dont")


@pytest.mark.parametrize(
    ("one", "other"), [(("1.2.3.4", "key"), ("1.2.3.5", "key")), (("1.2.3.4", "key"), ("1.2.3.4", "other"))]
)
def test_a_source_is_a_short_salted_hash(one: tuple[str, str], other: tuple[str, str]) -> None:
    source = feedback_source(*one)
    assert source == feedback_source(*one) != feedback_source(*other)
    assert len(source) == 16 and one[0] not in source and one[1] not in source
