"""The promotion rule: better style with its interval above zero, and no regression on anything else."""

import pytest

from llm_engineering.domain.bootstrap import Interval
from llm_engineering.domain.evaluation import ModelScores
from llm_engineering.domain.promotion import (
    Evidence,
    PromotionDecision,
    Tolerances,
    Verdict,
    decide_promotion,
    regressions,
)


def scores(
    model: str, accuracy: float = 2.0, style: float = 2.0, rouge_l: float = 0.350, bleu: float = 0.120
) -> ModelScores:
    return ModelScores(
        model=model,
        judge_accuracy=accuracy,
        judge_style=style,
        reference={"rouge_l": rouge_l, "bleu": bleu},
        answer_words=40,
        samples=20,
        judged=20,
    )


def interval(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate=estimate, low=low, high=high, n=20)


PRODUCTION = scores("production")
BETTER_STYLE = Evidence(style=interval(0.30, 0.10, 0.50))
TOLERANCES = Tolerances(reference=0.02, judge=0.1)


def decide(candidate: ModelScores, evidence: Evidence = BETTER_STYLE) -> PromotionDecision:
    return decide_promotion(candidate, PRODUCTION, evidence, TOLERANCES)


def test_a_first_model_is_promoted_with_its_numbers_whatever_the_evidence() -> None:
    candidate = scores("candidate", 1.5, 1.0, 0.2, 0.05)
    decision = decide_promotion(candidate, None, Evidence(style=interval(-0.5, -0.7, -0.3)), TOLERANCES)
    assert decision.verdict is Verdict.PROMOTE and decision.promote
    assert "No production model" in decision.reason
    assert "judge_score 1.250" in decision.reason and "rouge_l 0.200" in decision.reason


def test_better_style_with_its_interval_above_zero_and_no_regression_is_promoted() -> None:
    decision = decide(scores("candidate", 2.2, 2.0, 0.340, 0.100))
    assert decision.verdict is Verdict.PROMOTE and decision.promote
    assert "style fidelity is higher by +0.300 [+0.100, +0.500] with no regression" in decision.reason
    assert "judge_score 2.100" in decision.reason and "judge_score 2.000" in decision.reason


def test_a_style_interval_that_includes_zero_is_a_tie() -> None:
    decision = decide(scores("candidate", 2.5, 2.5, 0.9, 0.9), Evidence(style=interval(0.10, -0.05, 0.25)))
    assert decision.verdict is Verdict.TIE and not decision.promote
    assert "differs by +0.100 [-0.050, +0.250], an interval that includes zero" in decision.reason


def test_no_difference_at_all_is_a_tie() -> None:
    decision = decide(scores("candidate"), Evidence(style=interval(0.0, 0.0, 0.0)))
    assert decision.verdict is Verdict.TIE and "includes zero" in decision.reason


def test_style_below_zero_is_worse() -> None:
    decision = decide(scores("candidate", 2.5, 2.5), Evidence(style=interval(-0.30, -0.50, -0.10)))
    assert decision.verdict is Verdict.WORSE and not decision.promote
    assert "style fidelity is lower by -0.300 [-0.500, -0.100]" in decision.reason


def test_citation_precision_below_zero_is_worse_even_with_better_style() -> None:
    evidence = BETTER_STYLE.model_copy(update={"citation_precision": interval(-0.2, -0.4, -0.05)})
    decision = decide(scores("candidate"), evidence)
    assert decision.verdict is Verdict.WORSE
    assert "citation precision is lower by -0.200 [-0.400, -0.050]" in decision.reason
    assert "style fidelity is higher" not in decision.reason


def test_a_citation_precision_interval_including_zero_does_not_block_a_promotion() -> None:
    evidence = BETTER_STYLE.model_copy(update={"citation_precision": interval(-0.1, -0.3, 0.1)})
    assert decide(scores("candidate"), evidence).verdict is Verdict.PROMOTE


def test_a_judge_drop_past_its_tolerance_is_worse_and_a_drop_of_exactly_the_tolerance_allowed() -> None:
    dropped = decide(scores("candidate", 1.85, 1.85))
    assert dropped.verdict is Verdict.WORSE
    assert "judge score drops from 2.000 to 1.850, more than 0.100" in dropped.reason
    assert decide(scores("candidate", 1.9, 1.9)).verdict is Verdict.PROMOTE


def test_the_judge_tolerance_comes_from_the_tolerances() -> None:
    strict = decide_promotion(scores("candidate", 1.95, 1.95), PRODUCTION, BETTER_STYLE, Tolerances(judge=0))
    assert strict.verdict is Verdict.WORSE and "more than 0.000" in strict.reason
    lenient = Tolerances(judge=0.5)
    assert decide_promotion(scores("candidate", 1.6, 1.6), PRODUCTION, BETTER_STYLE, lenient).promote


def test_better_style_with_rouge_l_regressing_beyond_tolerance_is_worse() -> None:
    decision = decide(scores("candidate", 2.5, 2.5, 0.300, 0.120))
    assert decision.verdict is Verdict.WORSE
    assert "rouge_l drops from 0.350 to 0.300, more than 0.020" in decision.reason
    assert "2.500" in decision.reason and "2.000" in decision.reason


def test_better_style_with_bleu_regressing_beyond_tolerance_is_worse() -> None:
    decision = decide(scores("candidate", 2.5, 2.5, 0.350, 0.050))
    assert decision.verdict is Verdict.WORSE
    assert "bleu drops from 0.120 to 0.050" in decision.reason and "rouge_l drops" not in decision.reason


def test_reference_regressions_within_tolerance_or_of_exactly_the_tolerance_are_allowed() -> None:
    assert decide(scores("candidate", 2.2, 2.0, 0.340, 0.100)).promote
    assert decide(scores("candidate", 2.2, 2.0, 0.33, 0.10)).promote


def test_a_new_reference_metric_is_guarded_without_code_for_it() -> None:
    candidate = PRODUCTION.model_copy(
        update={
            "model": "candidate",
            "judge_accuracy": 2.5,
            "reference": {**PRODUCTION.reference, "meteor": 0.1},
        }
    )
    production = PRODUCTION.model_copy(update={"reference": {**PRODUCTION.reference, "meteor": 0.4}})
    decision = decide_promotion(candidate, production, BETTER_STYLE, TOLERANCES)
    assert decision.verdict is Verdict.WORSE and "meteor drops from 0.400 to 0.100" in decision.reason
    assert candidate.metrics() == {"judge_score": 2.25, "rouge_l": 0.35, "bleu": 0.12, "meteor": 0.1}


def test_a_metric_only_one_side_has_is_not_compared() -> None:
    candidate = scores("candidate").model_copy(update={"reference": {"rouge_l": 0.35}})
    production = PRODUCTION.model_copy(update={"reference": {**PRODUCTION.reference, "meteor": 0.9}})
    assert decide_promotion(candidate, production, BETTER_STYLE, TOLERANCES).promote


def test_unmeasured_style_is_a_tie_even_for_a_better_judge_score() -> None:
    decision = decide(scores("candidate", 3.0, 3.0, 0.9, 0.9), Evidence())
    assert decision.verdict is Verdict.TIE
    assert "style fidelity was not measured" in decision.reason


def test_unmeasured_style_with_a_regression_is_worse() -> None:
    decision = decide(scores("candidate", 1.0, 1.0), Evidence())
    assert decision.verdict is Verdict.WORSE and "judge score drops" in decision.reason


def test_every_regression_is_named() -> None:
    candidate = scores("candidate", 1.5, 1.5, 0.1, 0.0)
    evidence = Evidence(style=interval(-0.3, -0.5, -0.1), citation_precision=interval(-0.2, -0.4, -0.1))
    found = regressions(candidate, PRODUCTION, evidence, TOLERANCES)
    assert [line.split(" ")[0] for line in found] == ["style", "citation", "judge", "rouge_l", "bleu"]
    assert regressions(scores("candidate"), PRODUCTION, BETTER_STYLE, TOLERANCES) == []


def test_metrics_hold_the_style_interval_and_the_grounding_means() -> None:
    candidate = scores("candidate").model_copy(
        update={
            "style": interval(0.8, 0.6, 0.95),
            "grounding": {"citation_precision": 0.75, "unsupported_share": 0.1},
            "win_rate": 0.5,
        }
    )
    assert candidate.metrics() == {
        "judge_score": 2.0,
        "rouge_l": 0.35,
        "bleu": 0.12,
        "citation_precision": 0.75,
        "unsupported_share": 0.1,
        "style_fidelity": 0.8,
        "style_fidelity_low": 0.6,
        "style_fidelity_high": 0.95,
        "win_rate": 0.5,
    }
    assert "style_fidelity" not in scores("candidate").metrics()
    # The reason shows the estimates; the interval's ends are in the evidence, not repeated per model.
    reason = decide(candidate).reason
    assert "style_fidelity 0.800" in reason and "citation_precision 0.750" in reason
    assert "style_fidelity_low" not in reason and "win_rate" not in reason


def test_tolerances_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Tolerances(judge=-0.1)
    assert Tolerances() == TOLERANCES and Verdict.PROMOTE == "promote"
