"""The evaluation use case: answer the test split, judge and score each model, measure retrieval, decide."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from pydantic import BaseModel, Field

from llm_engineering.application.evaluation_config import EvaluationConfig, ReferenceMetrics
from llm_engineering.application.judging import judge_answers, judge_pairwise
from llm_engineering.application.ports import ChatModel, Embedder, ModelLoader, ModelRegistry, VectorIndex
from llm_engineering.application.retrieval_quality import RETRIEVAL_METRICS, measure_retrieval
from llm_engineering.application.scoring import SampleRow, answer_questions, sample_rows, score_model
from llm_engineering.application.serving import ServedModel
from llm_engineering.domain import evaluation as ev
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import UsageTotals
from llm_engineering.domain.registry import Key, Stage

CANDIDATE, PRODUCTION, BASE = "candidate", "production", "base"


@dataclass(frozen=True)
class Contestants:
    """The models an evaluation runs: the candidate, the judge, and the production and base models if given.

    The base model (before fine-tuning) is scored for reference; promotion compares candidate and production.
    """

    candidate: ChatModel
    judge: ChatModel
    production: ChatModel | None = None
    base: ChatModel | None = None


class EvaluationReport(BaseModel):
    """What an evaluation found: scores per model, the promotion decision, and every sample."""

    scores: list[ev.ModelScores]
    decision: ev.PromotionDecision
    retrieval: dict[str, float] = Field(default_factory=dict, description="hit_at_k, mrr, k, queries.")
    rows: list[SampleRow] = Field(default_factory=list)
    judge_usage: UsageTotals = Field(default_factory=UsageTotals)
    candidate_version: int | None = Field(
        None, description="The registry version evaluated as the candidate: the one promotion may move."
    )

    def candidate_metrics(self) -> dict[str, float]:
        """The candidate's numbers by name, retrieval's prefixed, as they are logged on its version."""
        [candidate] = [scores for scores in self.scores if scores.model == CANDIDATE]
        measured = [name for name in RETRIEVAL_METRICS if name in self.retrieval]
        return {**candidate.metrics(), **{f"retrieval_{name}": self.retrieval[name] for name in measured}}


def evaluate_models(
    models: Contestants,
    samples: Sequence[tuple[str, str]],
    metrics: ReferenceMetrics,
    config: EvaluationConfig,
) -> EvaluationReport:
    """Answer (instruction, reference) test samples with each model, judge, score, and decide promotion."""
    samples = list(samples)[: config.max_samples]
    if not samples:
        raise TwinError("The test split is empty; generate the dataset with test_split_size above 0.")
    instructions, references = [i for i, _ in samples], [r for _, r in samples]
    contestants = {CANDIDATE: models.candidate, PRODUCTION: models.production, BASE: models.base}
    answers = {
        label: answer_questions(model, instructions, config)
        for label, model in contestants.items()
        if model is not None
    }
    judged = {
        label: judge_answers(models.judge, instructions, texts, references, config)
        for label, texts in answers.items()
    }
    pairwise = None
    if PRODUCTION in answers:
        contenders = (answers[CANDIDATE], answers[PRODUCTION])
        pairwise = judge_pairwise(models.judge, instructions, references, contenders, config)
    rates = {CANDIDATE: pairwise.win_rate()} if pairwise is not None else {}
    scores = {
        label: score_model(
            label, texts, references, judged=judged[label], win_rate=rates.get(label), metrics=metrics
        )
        for label, texts in answers.items()
    }
    usage = reduce(
        UsageTotals.add_totals,
        [results.usage for results in (*judged.values(), pairwise) if results is not None],
        UsageTotals(),
    )
    return EvaluationReport(
        scores=list(scores.values()),
        decision=ev.decide_promotion(scores[CANDIDATE], scores.get(PRODUCTION), config.tolerance),
        rows=sample_rows(samples, answers, judged, pairwise),
        judge_usage=usage,
    )


@dataclass(frozen=True)
class EvaluationSetup:
    """What an evaluation reaches through ports: the registry, the models, the metrics and the feature store.

    `served` is the model that answers users now (the serving policy's choice): the candidate must beat it.
    """

    registry: ModelRegistry
    loader: ModelLoader
    judge: ChatModel
    served: ServedModel
    metrics: ReferenceMetrics
    index: VectorIndex
    embedder: Embedder


def evaluate_candidate(
    setup: EvaluationSetup, samples: Sequence[tuple[str, str]], config: EvaluationConfig
) -> EvaluationReport:
    """Evaluate the registry's newest version against the served model and the base model, measure
    retrieval, and log the candidate's metrics on its version."""
    registry = setup.registry
    candidate = registry.latest()
    served_dir = setup.served.model_dir
    # With no twin version or pinned folder in service there is nothing to beat: the first is promoted.
    is_candidate = setup.served.version is not None and setup.served.version.number == candidate.number
    contestants = Contestants(
        candidate=setup.loader.load(registry.model_dir(candidate.number), f"candidate v{candidate.number}"),
        judge=setup.judge,
        production=setup.loader.load(served_dir, PRODUCTION) if served_dir and not is_candidate else None,
        base=setup.loader.base(BASE),
    )
    report = evaluate_models(contestants, samples, setup.metrics, config)
    retrieval = measure_retrieval(setup.index, setup.embedder, setup.judge, config)
    report = report.model_copy(update={"retrieval": retrieval, "candidate_version": candidate.number})
    registry.log_metadata(candidate.number, {Key.METRICS: report.candidate_metrics()})
    return report


def promote_evaluated(registry: ModelRegistry, report: EvaluationReport) -> Stage:
    """Production for a candidate that won, staging otherwise; the decision's reason goes on record."""
    if report.candidate_version is None:
        raise TwinError("This evaluation report names no candidate version; evaluate a registry version.")
    stage = Stage.PRODUCTION if report.decision.promote else Stage.STAGING
    registry.promote(report.candidate_version, stage, report.decision.reason)
    return stage
