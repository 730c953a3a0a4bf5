"""How a model did on the test split, and the retrieval metrics hit@k and MRR."""

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_engineering.domain.bootstrap import Interval


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
    """How one model did on the test split: judge means, reference metrics by name, and answer length."""

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
    reference: dict[str, float] = Field(
        default_factory=dict,
        description="Overlap with the author's own answers, by metric name (rouge_l, bleu, …), each 0 to 1.",
    )
    style: Interval | None = Field(
        None,
        description="Share of its answers attributed to the author by the style verifier, with interval.",
    )
    grounding: dict[str, float] = Field(
        default_factory=dict,
        description="Of its RAG answers: mean citation_precision and unsupported_share (domain.grounding).",
    )
    answer_words: float = Field(ge=0, description="Mean answer length in words.")
    samples: int = Field(ge=0, description="Test samples answered.")
    judged: int = Field(ge=0, description="Answers the judge scored; the rest never gave a readable score.")

    @field_validator("reference")
    @classmethod
    def _within_unit_interval(cls, values: dict[str, float]) -> dict[str, float]:
        outside = {name: value for name, value in values.items() if not 0 <= value <= 1}
        if outside:
            raise ValueError(f"Reference metrics run from 0 to 1; got {outside}.")
        return values

    @property
    def judge_score(self) -> float:
        """Accuracy and style averaged: the number promotion compares."""
        return (self.judge_accuracy + self.judge_style) / 2

    def metrics(self) -> dict[str, float]:
        """Every number of this model by name, as the registry logs them and `models list` shows them."""
        named = {"judge_score": self.judge_score, **self.reference, **self.grounding}
        if self.style is not None:
            named |= {
                "style_fidelity": self.style.estimate,
                "style_fidelity_low": self.style.low,
                "style_fidelity_high": self.style.high,
            }
        return named if self.win_rate is None else {**named, "win_rate": self.win_rate}
