"""The evaluation use case: answer the test split, judge and score each model, measure retrieval, decide."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from pydantic import BaseModel, Field

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.evaluation_config import EvaluationConfig, ReferenceMetrics
from llm_engineering.application.fidelity import StyleFidelity, measure_style_fidelity
from llm_engineering.application.judging import judge_answers, judge_pairwise
from llm_engineering.application.ports import (
    AuthorshipVerifier,
    ChatModel,
    ModelLoader,
    ModelRegistry,
    SupportChecker,
    VectorIndex,
)
from llm_engineering.application.rag_quality import RagQuality, RetrieverFor, measure_served_rag
from llm_engineering.application.retrieval_quality import RETRIEVAL_METRICS
from llm_engineering.application.scoring import SampleRow, answer_questions, sample_rows, score_model
from llm_engineering.application.serving import ServedModel
from llm_engineering.domain import evaluation as ev
from llm_engineering.domain import promotion
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
    decision: promotion.PromotionDecision
    evidence: promotion.Evidence = Field(default_factory=promotion.Evidence)
    fidelity: StyleFidelity | None = Field(None, description="Style fidelity per model, author and base.")
    rag: RagQuality | None = Field(None, description="The service's retrieval and its answers' grounding.")
    retrieval: dict[str, float] = Field(default_factory=dict, description="hit_at_k, mrr, k, queries.")
    rows: list[SampleRow] = Field(default_factory=list)
    judge_usage: UsageTotals = Field(default_factory=UsageTotals)
    candidate_version: int | None = Field(
        None, description="The registry version evaluated as the candidate: the one promotion may move."
    )

    def registry_metadata(self) -> dict[str, object]:
        """What goes on the candidate's version: its metrics, every label's style fidelity, the verdict."""
        fidelity = {
            label: {"share": f.share.estimate, "low": f.share.low, "high": f.share.high}
            for label, f in (self.fidelity.labels.items() if self.fidelity else [])
        }
        return {
            Key.METRICS: self.candidate_metrics(),
            Key.FIDELITY: fidelity,
            Key.VERDICT: self.decision.verdict.value,
        }

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
    verifier: AuthorshipVerifier | None = None,
    impostors: Sequence[str] = (),
) -> EvaluationReport:
    """Answer (instruction, reference) test samples with each model, judge, score, and decide promotion.

    With a verifier and the base model, style fidelity is measured: the verifier learns the references
    (the author's held-out passages) against the base model's answers, and scores every model's answers.
    """
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
    fidelity = None
    if verifier is not None and BASE in answers:
        others = {label: texts for label, texts in answers.items() if label != BASE}
        fidelity = measure_style_fidelity(
            verifier, references, answers[BASE], others, config.fidelity_folds, config.seed, impostors
        )
    scores = {
        label: score_model(
            label, texts, references, judged=judged[label], win_rate=rates.get(label), metrics=metrics
        ).model_copy(update={"style": fidelity.labels[label].share if fidelity else None})
        for label, texts in answers.items()
    }
    usage = reduce(
        UsageTotals.add_totals,
        [results.usage for results in (*judged.values(), pairwise) if results is not None],
        UsageTotals(),
    )
    evidence = promotion.Evidence(
        style=fidelity.share_difference(CANDIDATE, PRODUCTION) if fidelity and PRODUCTION in answers else None
    )
    return EvaluationReport(
        scores=list(scores.values()),
        decision=decide(scores, evidence, config),
        evidence=evidence,
        fidelity=fidelity,
        rows=sample_rows(samples, answers, judged, pairwise),
        judge_usage=usage,
    )


def decide(
    scores: dict[str, ev.ModelScores], evidence: promotion.Evidence, config: EvaluationConfig
) -> promotion.PromotionDecision:
    tolerances = promotion.Tolerances(reference=config.tolerance, judge=config.judge_tolerance)
    return promotion.decide_promotion(scores[CANDIDATE], scores.get(PRODUCTION), evidence, tolerances)


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
    retriever: RetrieverFor
    answer: AnswerConfig
    verifier: AuthorshipVerifier
    support: SupportChecker
    impostors: Sequence[str] = ()


def evaluate_candidate(
    setup: EvaluationSetup, samples: Sequence[tuple[str, str]], config: EvaluationConfig
) -> EvaluationReport:
    """Evaluate the registry's newest version against the served model and the base model: style fidelity
    and the judge on the test split, then the service's retrieval and the grounding of each model's answers
    through it; decide, and log the candidate's metrics on its version."""
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
    report = evaluate_models(contestants, samples, setup.metrics, config, setup.verifier, setup.impostors)
    report = report.model_copy(update={"candidate_version": candidate.number})
    if config.retrieval_queries:
        report = with_rag_quality(report, contestants, setup, config)
    registry.log_metadata(candidate.number, report.registry_metadata())
    return report


def with_rag_quality(
    report: EvaluationReport, contestants: Contestants, setup: EvaluationSetup, config: EvaluationConfig
) -> EvaluationReport:
    """The report with the served retriever's hit@k and MRR, each model's grounding, and the decision
    taken again with the citation precision difference as evidence."""
    models = {CANDIDATE: contestants.candidate, PRODUCTION: contestants.production}
    served = {label: model for label, model in models.items() if model is not None}
    # The service expands queries with the model it serves: production, or the candidate if there is none.
    retriever = setup.retriever(contestants.production or contestants.candidate)
    rag = measure_served_rag(setup.index, retriever, setup.judge, served, setup.support, setup.answer, config)
    scores = {
        s.model: s.model_copy(update={"grounding": grounding_means(rag, s.model)}) if s.model in served else s
        for s in report.scores
    }
    evidence = report.evidence.model_copy(
        update={
            "citation_precision": rag.precision_difference(CANDIDATE, PRODUCTION)
            if PRODUCTION in served
            else None
        }
    )
    return report.model_copy(
        update={
            "scores": list(scores.values()),
            "rag": rag,
            "retrieval": rag.retrieval,
            "evidence": evidence,
            "decision": decide(scores, evidence, config),
        }
    )


def grounding_means(rag: RagQuality, label: str) -> dict[str, float]:
    """The mean citation precision and unsupported share of `label`'s answers, those that exist."""
    summary = rag.grounding[label]
    means = {
        "citation_precision": summary.mean_citation_precision,
        "unsupported_share": summary.mean_unsupported_share,
    }
    return {name: value for name, value in means.items() if value is not None}


def promote_evaluated(registry: ModelRegistry, report: EvaluationReport) -> Stage:
    """Production for a candidate that won, staging otherwise; the decision's reason goes on record."""
    if report.candidate_version is None:
        raise TwinError("This evaluation report names no candidate version; evaluate a registry version.")
    stage = Stage.PRODUCTION if report.decision.promote else Stage.STAGING
    registry.promote(report.candidate_version, stage, report.decision.reason)
    return stage
