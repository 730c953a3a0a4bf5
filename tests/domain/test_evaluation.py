import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.evaluation import hit_at_k, mean_reciprocal_rank
from llm_engineering.domain.judgement import expected_score, judgement_from_choices, parse_judgement
from llm_engineering.domain.pairwise import (
    PairwiseVerdict,
    order_pair,
    pairwise_outcome,
    parse_pairwise,
    verdict_from_choices,
    win_rate,
)
from tests.domain.test_promotion import scores

JUDGEMENTS = {
    "plain JSON": (
        '{"accuracy": 3, "style": 2, "reason": "Right, but generic."}',
        3,
        2,
        "Right, but generic.",
    ),
    "fenced JSON in prose": (
        'Sure! Here is my evaluation:\n```json\n{\n  "accuracy": 2,\n  "style": 3,\n'
        '  "reason": "Misses the retry limit."\n}\n```\nLet me know if you need more.',
        2,
        3,
        "Misses the retry limit.",
    ),
    "Python dict with a trailing comma": (
        "{'accuracy': 3, 'style': 1, 'reason': 'Reads like a textbook.',}",
        3,
        1,
        "Reads like a textbook.",
    ),
    "single quotes and an apostrophe": (
        "{'accuracy': 1, 'style': 1, 'reason': 'It doesn't answer the question'}",
        1,
        1,
        "It doesn't answer the question",
    ),
    "JSON with a trailing comma and scores as text": (
        '{"accuracy": "2/3", "style": "three", "reason": "Close to the reference",}',
        2,
        3,
        "Close to the reference",
    ),
    "capitalised keys and float scores": (
        '{"Accuracy": 2.0, "Style": 1, "Reasoning": "Partly correct."}',
        2,
        1,
        "Partly correct.",
    ),
    "nested scores": ('{"scores": {"accuracy": 1, "style": 2}, "reason": "Off topic."}', 1, 2, "Off topic."),
    "echoed template, then the real object": (
        '{"accuracy": <score>, "style": <score>, "reason": "<one sentence>"}\n'
        '{"accuracy": 1, "style": 3, "reason": "Wrong facts."}',
        1,
        3,
        "Wrong facts.",
    ),
    "markdown lines": (
        "**Accuracy:** 2\n**Style:** 3\n**Reason:** Covers the main point in the author's voice.",
        2,
        3,
        "Covers the main point in the author's voice.",
    ),
    "range in the label": ("Accuracy (1-3): 3\nStyle (1-3): 1\nReason: generic.", 3, 1, "generic."),
    "reason first": ("Reason: Right but bland.\nAccuracy: 3\nStyle: 1", 3, 1, "Right but bland."),
    "words and fractions in a sentence": (
        "Accuracy: two out of three. Style: 1/3. The answer is generic.",
        2,
        1,
        "The answer is generic.",
    ),
    "prose with 'is'": ("The accuracy is 3 and the style is 2.", 3, 2, "accuracy is 3"),
    "score suffix": ("Accuracy score: 2, style score: 2", 2, 2, "Accuracy score"),
    "bare leading pair": ("3, 2 - correct but does not sound like the author", 3, 2, "does not sound"),
}


@pytest.mark.parametrize(("text", "accuracy", "style", "reason"), JUDGEMENTS.values(), ids=list(JUDGEMENTS))
def test_parse_judgement_reads_scores_and_reason(text: str, accuracy: int, style: int, reason: str) -> None:
    judgement = parse_judgement(text)
    assert (judgement.accuracy, judgement.style) == (accuracy, style)
    assert reason in judgement.reason


MALFORMED = {
    "empty": ("", "accuracy and style"),
    "no scores": ("I think this is a good answer that matches the author.", "accuracy and style"),
    "one score": ("Accuracy: 3\nThe style is fine.", "style"),
    "JSON with one score": ('{"accuracy": 2, "reason": "ok"}', "style"),
    "out of the scale": ("Accuracy: 5\nStyle: 3", "not 1, 2 or 3"),
    "another scale": ("Accuracy: 8/10, Style: 3/3", "not 1, 2 or 3"),
    "half point": ('{"accuracy": 2.5, "style": 3}', "not 1, 2 or 3"),
    "echoed template only": (
        '{"accuracy": 1-3, "style": 1-3, "reason": "one sentence"}',
        "accuracy and style",
    ),
    "numbers that are not scores": ("The answer mentions 2 retries and 3 steps.", "accuracy and style"),
}


@pytest.mark.parametrize(("text", "message"), MALFORMED.values(), ids=list(MALFORMED))
def test_parse_judgement_refuses_what_holds_no_two_scores(text: str, message: str) -> None:
    with pytest.raises(MalformedAnswerError, match=message):
        parse_judgement(text)


VERDICTS: dict[str, PairwiseVerdict] = {
    "A": "A",
    "B.": "B",
    "**A**": "A",
    "b": "B",
    "Tie": "tie",
    "tie - both miss the point": "tie",
    "Answer A": "A",
    "Answer B is better because it uses the author's own example.": "B",
    "A is better.": "A",
    '{"winner": "B"}': "B",
    '```json\n{"verdict": "tie"}\n```': "tie",
    "Winner: A": "A",
    "Both answers are equally good.": "tie",
    "I prefer B because it is shorter.": "B",
    "After comparing them, response A reads closer to the reference.": "A",
    "Both are fine, but B is more in the author's voice.": "B",
    "Neither answer is good.": "tie",
    "Answer A mentions retries while answer B does not, so I choose A.": "A",
    "The better answer is B.": "B",
}


@pytest.mark.parametrize(("text", "verdict"), VERDICTS.items(), ids=list(VERDICTS))
def test_parse_pairwise_reads_the_verdict(text: str, verdict: PairwiseVerdict) -> None:
    assert parse_pairwise(text) == verdict


@pytest.mark.parametrize(
    "text",
    ["", "Hmm, hard to say.", "A good answer would mention retries.", "Answer A and answer B both say so."],
)
def test_parse_pairwise_refuses_answers_without_a_verdict(text: str) -> None:
    with pytest.raises(MalformedAnswerError, match="No verdict"):
        parse_pairwise(text)


FLIP: dict[PairwiseVerdict, PairwiseVerdict] = {"A": "B", "B": "A", "tie": "tie"}


@pytest.mark.parametrize("verdict", ["A", "B", "tie"])
def test_the_same_preference_maps_to_the_same_winner_in_either_order(verdict: PairwiseVerdict) -> None:
    assert pairwise_outcome(verdict, swapped=False) == pairwise_outcome(FLIP[verdict], swapped=True)


@given(seed=st.integers(), preferred=st.sampled_from(["candidate", "other", "tie"]))
def test_swapping_never_changes_which_model_wins(seed: int, preferred: str) -> None:
    first, second, swapped = order_pair("candidate answer", "other answer", random.Random(seed))
    assert {first, second} == {"candidate answer", "other answer"}
    assert swapped == (first == "other answer")
    # A judge that prefers an answer for its content, whatever position it is shown in.
    verdict: PairwiseVerdict = "tie" if preferred == "tie" else "A" if first.startswith(preferred) else "B"
    assert pairwise_outcome(verdict, swapped) == preferred


def test_order_pair_swaps_about_half_the_time_and_repeats_for_a_seed() -> None:
    rng = random.Random(7)
    swaps = [order_pair(1, 2, rng)[2] for _ in range(1000)]
    assert 400 < sum(swaps) < 600
    again = random.Random(7)
    assert swaps == [order_pair(1, 2, again)[2] for _ in range(1000)]


def test_win_rate_counts_a_tie_as_half() -> None:
    assert win_rate(["candidate", "tie", "other", "candidate"]) == 2.5 / 4
    with pytest.raises(ValueError, match="at least one"):
        win_rate([])


RANKED = [["a", "b", "c"], ["x", "a", "y"], ["m", "z", "n"], ["p", "q", "r"]]
RELEVANT = ["a", "y", "z", "nowhere"]


def test_hit_at_k_against_hand_computed_values() -> None:
    assert hit_at_k(RANKED, RELEVANT, 1) == 1 / 4
    assert hit_at_k(RANKED, RELEVANT, 2) == 2 / 4
    assert hit_at_k(RANKED, RELEVANT, 3) == 3 / 4
    assert hit_at_k(RANKED, RELEVANT, 10) == 3 / 4


def test_mean_reciprocal_rank_against_a_hand_computed_value() -> None:
    assert mean_reciprocal_rank(RANKED, RELEVANT) == pytest.approx((1 + 1 / 3 + 1 / 2 + 0) / 4)
    assert mean_reciprocal_rank([["a"]], ["a"]) == 1.0


def test_retrieval_metrics_refuse_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError, match="one ranking per query"):
        hit_at_k(RANKED, RELEVANT[:2], 3)
    with pytest.raises(ValueError, match="one ranking per query"):
        mean_reciprocal_rank([], [])
    with pytest.raises(ValueError, match="k must be"):
        hit_at_k(RANKED, RELEVANT, 0)


def test_expected_score_weighs_each_score_by_its_probability() -> None:
    assert expected_score({"1": 0.2, "2": 0.3, "3": 0.5}) == pytest.approx(2.3)
    assert expected_score({"1": 2, "2": 0, "3": 2}) == pytest.approx(2.0)  # renormalised
    with pytest.raises(ValueError, match="Expected probabilities"):
        expected_score({"1": 0.5, "3": 0.5})
    with pytest.raises(ValueError, match="sum to zero"):
        expected_score({"1": 0, "2": 0, "3": 0})


def test_judgement_from_choices_keeps_the_probabilities_as_its_reason() -> None:
    judgement = judgement_from_choices({"1": 0, "2": 0, "3": 1}, {"1": 1, "2": 0, "3": 0})
    assert (judgement.accuracy, judgement.style) == (3.0, 1.0)
    assert "accuracy p(1)=0.00 p(2)=0.00 p(3)=1.00" in judgement.reason


@pytest.mark.parametrize(("a", "b", "verdict"), [(0.6, 0.4, "A"), (0.2, 0.8, "B"), (0.5, 0.5, "tie")])
def test_verdict_from_choices_picks_the_likelier(a: float, b: float, verdict: str) -> None:
    assert verdict_from_choices({"A": a, "B": b}) == verdict


def test_reference_metrics_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="from 0 to 1"):
        scores("candidate", 2.0, 2.0, 1.5, 0.1)  # a ROUGE-L above 1
