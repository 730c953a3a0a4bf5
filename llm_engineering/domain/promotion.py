"""The promotion rule: a candidate replaces production only when it writes more like the author, with the
bootstrap interval of the difference clear of zero, and regresses on nothing else."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.bootstrap import Interval
from llm_engineering.domain.evaluation import ModelScores


class Verdict(StrEnum):
    PROMOTE = "promote"
    TIE = "tie"
    WORSE = "worse"


class Evidence(BaseModel):
    """Differences candidate minus production over the same items, each with its bootstrap interval."""

    model_config = ConfigDict(frozen=True)

    style: Interval | None = Field(None, description="In the share of answers attributed to the author.")
    citation_precision: Interval | None = Field(None, description="In the citation precision of RAG answers.")


class Tolerances(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: float = Field(0.02, ge=0, description="Largest drop of a reference metric (0 to 1) allowed.")
    judge: float = Field(0.1, ge=0, description="Largest drop of the judge score (1 to 3) allowed.")


class PromotionDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reason: str

    @property
    def promote(self) -> bool:
        return self.verdict is Verdict.PROMOTE


def _describe(scores: ModelScores) -> str:
    shown = {name: value for name, value in scores.metrics().items() if not name.endswith(("_low", "_high"))}
    return ", ".join(f"{name} {value:.3f}" for name, value in shown.items() if name != "win_rate")


def _interval(interval: Interval) -> str:
    return f"{interval.estimate:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]"


def regressions(
    candidate: ModelScores, production: ModelScores, evidence: Evidence, tolerances: Tolerances
) -> list[str]:
    """What the candidate does clearly worse than production, in words."""
    found = []
    if evidence.style is not None and evidence.style.below_zero:
        found.append(f"style fidelity is lower by {_interval(evidence.style)}")
    if evidence.citation_precision is not None and evidence.citation_precision.below_zero:
        found.append(f"citation precision is lower by {_interval(evidence.citation_precision)}")
    if production.judge_score - candidate.judge_score > tolerances.judge + 1e-12:
        found.append(
            f"judge score drops from {production.judge_score:.3f} to {candidate.judge_score:.3f}, "
            f"more than {tolerances.judge:.3f}"
        )
    for name in [name for name in candidate.reference if name in production.reference]:
        new, old = candidate.reference[name], production.reference[name]
        if old - new > tolerances.reference + 1e-12:  # the epsilon keeps a drop of exactly the tolerance
            found.append(f"{name} drops from {old:.3f} to {new:.3f}, more than {tolerances.reference:.3f}")
    return found


def decide_promotion(
    candidate: ModelScores,
    production: ModelScores | None,
    evidence: Evidence,
    tolerances: Tolerances = Tolerances(),  # noqa: B008 - frozen default
) -> PromotionDecision:
    """promote: no production yet, or style fidelity better with its interval above zero and no regression;
    worse: any regression (an interval below zero, or a drop past its tolerance); tie: anything else."""
    if production is None:
        return PromotionDecision(
            verdict=Verdict.PROMOTE, reason=f"No production model yet; candidate: {_describe(candidate)}."
        )
    compared = f"Candidate ({_describe(candidate)}) vs production ({_describe(production)})"
    found = regressions(candidate, production, evidence, tolerances)
    if found:
        return PromotionDecision(verdict=Verdict.WORSE, reason=f"{compared}: {'; '.join(found)}.")
    if evidence.style is None:
        return PromotionDecision(
            verdict=Verdict.TIE,
            reason=f"{compared}: style fidelity was not measured, so nothing shows a gain.",
        )
    if not evidence.style.above_zero:
        return PromotionDecision(
            verdict=Verdict.TIE,
            reason=f"{compared}: style fidelity differs by {_interval(evidence.style)}, an interval that "
            "includes zero.",
        )
    return PromotionDecision(
        verdict=Verdict.PROMOTE,
        reason=f"{compared}: style fidelity is higher by {_interval(evidence.style)} with no regression.",
    )
