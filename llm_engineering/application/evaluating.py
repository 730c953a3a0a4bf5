"""The evaluation use case: answer the test split, judge and score each model, measure retrieval, decide."""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Literal, NamedTuple, cast

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.generation import generate_parsed
from llm_engineering.application.ports import ChatModel, ChoiceScorer, Embedder, VectorIndex
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain import evaluation as ev
from llm_engineering.domain.dataset_answers import parse_instruction
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT, ChatMessage, GenerationConfig, UsageTotals

CANDIDATE, PRODUCTION, BASE = "candidate", "production", "base"
TextMetric = Callable[[Sequence[str], Sequence[str]], float]
"""A reference-overlap metric: (predictions, references) -> a score from 0 to 1."""


class TextMetrics(NamedTuple):
    """The reference-overlap metrics, implemented in infrastructure and passed in."""

    rouge_l: TextMetric
    bleu: TextMetric


class EvaluationConfig(BaseModel):
    """Every tunable of the evaluating pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_samples: int | None = Field(None, gt=0, description="Evaluate at most this many test samples.")
    batch_size: int = Field(8, gt=0, description="Conversations per generation call.")
    max_retries: int = Field(2, ge=0, description="Re-asks of a judge or writer whose answer did not parse.")
    generation: GenerationConfig = Field(
        GenerationConfig(max_new_tokens=128, temperature=0.0),
        description="How the evaluated models answer; greedy, so that two runs compare.",
    )
    judge_generation: GenerationConfig = Field(
        GenerationConfig(max_new_tokens=128, temperature=0.0, json_mode=True),
        description="How the judge scores one answer.",
    )
    pairwise_generation: GenerationConfig = Field(
        GenerationConfig(max_new_tokens=16, temperature=0.0),
        description="How the judge picks between two answers.",
    )
    question_generation: GenerationConfig = Field(
        GenerationConfig(max_new_tokens=40, temperature=0.7, seed=42),
        description="How retrieval questions are written from chunks.",
    )
    tolerance: float = Field(
        0.02, ge=0, description="Largest absolute ROUGE-L or BLEU drop a promotion allows."
    )
    seed: int = Field(42, description="Seed of the pairwise answer order and of the chunks sampled.")
    retrieval_k: int = Field(5, gt=0, description="Results per query that hit@k and MRR look at.")
    retrieval_queries: int = Field(20, ge=0, description="Chunks to write a retrieval question for; 0 skips.")
    judge_mode: Literal["generate", "choice"] = Field(
        "generate",
        description="generate: the judge writes its scores; choice: each score is the expected value of the "
        "judge's probabilities for 1, 2 and 3 (for judges too small to follow a format; needs a backend "
        "that exposes them: local, or an OpenAI-compatible server with logprobs).",
    )
    judge_prompt: str = Field("judge_answer_v1", description="Template asking for accuracy and style.")
    choice_prompt: str = Field("judge_choice_v1", description="Template asking one criterion as a digit.")
    pairwise_prompt: str = Field("judge_pairwise_v1", description="Template asking which answer is better.")
    question_prompt: str = Field("instruction_v2", description="Template asking for a question on a chunk.")


@dataclass(frozen=True)
class Contestants:
    """The models an evaluation runs: the candidate, the judge, and the production and base models if given.

    The base model (before fine-tuning) is scored for reference; promotion compares candidate and production.
    """

    candidate: ChatModel
    judge: ChatModel
    production: ChatModel | None = None
    base: ChatModel | None = None


class JudgeResults(BaseModel):
    """A judge's scores by sample index, and why each other sample got none."""

    judgements: dict[int, ev.Judgement] = Field(default_factory=dict)
    failures: dict[int, str] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)


class PairwiseResults(BaseModel):
    """Which model won each judged pair, by sample index, and why each other pair got no verdict."""

    outcomes: dict[int, ev.PairwiseOutcome] = Field(default_factory=dict)
    failures: dict[int, str] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)

    def win_rate(self) -> float:
        """The candidate's share of wins over the judged pairs, a tie counting half."""
        if not self.outcomes:
            raise TwinError(
                f"The judge gave no readable verdict on any of {len(self.failures)} pairs; "
                "use a larger judge model, or raise max_retries."
            )
        return ev.win_rate(list(self.outcomes.values()))


class SampleRow(BaseModel):
    """One test sample as the results dataset stores it; models are keyed by their label."""

    instruction: str
    reference: str
    answers: dict[str, str]
    judgements: dict[str, ev.Judgement] = Field(default_factory=dict)
    judge_failures: dict[str, str] = Field(default_factory=dict)
    pairwise: ev.PairwiseOutcome | None = Field(None, description="Who won against production, if compared.")


class EvaluationReport(BaseModel):
    """What an evaluation found: scores per model, the promotion decision, and every sample."""

    scores: list[ev.ModelScores]
    decision: ev.PromotionDecision
    retrieval: dict[str, float] = Field(default_factory=dict, description="hit_at_k, mrr, k, queries.")
    rows: list[SampleRow] = Field(default_factory=list)
    judge_usage: UsageTotals = Field(default_factory=UsageTotals)


def answer_questions(model: ChatModel, instructions: Sequence[str], config: EvaluationConfig) -> list[str]:
    """The model's answer to each instruction, asked as the twin is served: under its system prompt."""
    system = ChatMessage(role="system", content=TWIN_SYSTEM_PROMPT)
    answers: list[str] = []
    for start in range(0, len(instructions), config.batch_size):
        batch = [
            [system, ChatMessage(role="user", content=i)]
            for i in instructions[start : start + config.batch_size]
        ]
        answers.extend(c.text.strip() for c in model.generate(batch, config.generation))
        logger.info("{} answered {}/{}", model.model_id, len(answers), len(instructions))
    return answers


def judge_answers(
    judge: ChatModel,
    instructions: Sequence[str],
    answers: Sequence[str],
    references: Sequence[str],
    config: EvaluationConfig,
) -> JudgeResults:
    """Accuracy and style of each answer; only unreadable judgements are asked again, and those that stay
    unreadable are reported in `failures`."""
    if config.judge_mode == "choice":
        return judge_answers_by_choice(choice_scorer(judge), instructions, answers, references, config)
    conversations = [
        render_conversation(config.judge_prompt, instruction=i, reference=r, answer=a)
        for i, a, r in zip(instructions, answers, references, strict=True)
    ]
    parsed, usage, failures = generate_parsed(
        judge,
        conversations,
        lambda _, text: ev.parse_judgement(text).model_dump_json(),
        config.judge_generation,
        config.batch_size,
        config.max_retries,
    )
    if failures:
        logger.warning("The judge gave no readable score for {}/{} answers", len(failures), len(answers))
    judgements = {i: ev.Judgement.model_validate_json(text) for i, text in parsed.items()}
    return JudgeResults(judgements=judgements, failures=failures, usage=usage)


def choice_scorer(judge: ChatModel) -> ChoiceScorer:
    if not isinstance(judge, ChoiceScorer):
        raise TwinError(
            f"The judge {judge.model_id} cannot score choices (judge_mode: choice); use the local or the "
            "OpenAI-compatible backend, or set judge_mode: generate."
        )
    return judge


def judge_answers_by_choice(
    judge: ChoiceScorer,
    instructions: Sequence[str],
    answers: Sequence[str],
    references: Sequence[str],
    config: EvaluationConfig,
) -> JudgeResults:
    """Each criterion asked as a digit; its score is the expected value of the judge's probabilities."""
    triples = list(zip(instructions, answers, references, strict=True))
    by_criterion = {
        criterion: judge.choice_probabilities(
            [
                render_conversation(
                    config.choice_prompt, instruction=i, reference=r, answer=a, criterion=criterion
                )
                for i, a, r in triples
            ],
            ev.SCORE_CHOICES,
        )
        for criterion in ev.CRITERIA
    }
    judgements = {
        n: ev.judgement_from_choices(by_criterion["accuracy"][n], by_criterion["style"][n])
        for n in range(len(triples))
    }
    return JudgeResults(judgements=judgements)


def judge_pairwise(
    judge: ChatModel,
    instructions: Sequence[str],
    references: Sequence[str],
    contenders: tuple[Sequence[str], Sequence[str]],
    config: EvaluationConfig,
) -> PairwiseResults:
    """Which of (candidate answer, other answer) the judge prefers per sample, each pair shown in a seeded
    random order so that a judge's taste for the first or second position cancels out."""
    rng = random.Random(config.seed)
    orders = [ev.order_pair(c, o, rng) for c, o in zip(*contenders, strict=True)]
    conversations = [
        render_conversation(config.pairwise_prompt, instruction=i, reference=r, answer_a=a, answer_b=b)
        for i, r, (a, b, _) in zip(instructions, references, orders, strict=True)
    ]
    if config.judge_mode == "choice":
        chances = choice_scorer(judge).choice_probabilities(conversations, ("A", "B"))
        verdicts = [ev.verdict_from_choices(p) for p in chances]
        outcomes = {n: ev.pairwise_outcome(v, orders[n][2]) for n, v in enumerate(verdicts)}
        return PairwiseResults(outcomes=outcomes)
    parsed, usage, failures = generate_parsed(
        judge,
        conversations,
        lambda _, text: ev.parse_pairwise(text),
        config.pairwise_generation,
        config.batch_size,
        config.max_retries,
    )
    outcomes = {i: ev.pairwise_outcome(cast(ev.PairwiseVerdict, v), orders[i][2]) for i, v in parsed.items()}
    return PairwiseResults(outcomes=outcomes, failures=failures, usage=usage)


def score_model(
    label: str,
    answers: Sequence[str],
    references: Sequence[str],
    *,
    judged: JudgeResults,
    win_rate: float | None,
    metrics: TextMetrics,
) -> ev.ModelScores:
    """Judge means over the judged answers, reference overlap and length over all answers."""
    if not judged.judgements:
        reasons = "; ".join(sorted(set(judged.failures.values()))[:3])
        raise TwinError(
            f"The judge scored none of the {len(answers)} answers of {label} ({reasons}). "
            "Use a larger judge model, or raise max_retries or judge_generation.max_new_tokens."
        )
    scores = list(judged.judgements.values())
    return ev.ModelScores(
        model=label,
        judge_accuracy=sum(j.accuracy for j in scores) / len(scores),
        judge_style=sum(j.style for j in scores) / len(scores),
        win_rate=win_rate,
        rouge_l=metrics.rouge_l(answers, references),
        bleu=metrics.bleu(answers, references),
        answer_words=sum(len(a.split()) for a in answers) / len(answers),
        samples=len(answers),
        judged=len(scores),
    )


def _rows(
    samples: Sequence[tuple[str, str]],
    answers: dict[str, list[str]],
    judged: dict[str, JudgeResults],
    pairwise: PairwiseResults | None,
) -> list[SampleRow]:
    return [
        SampleRow(
            instruction=instruction,
            reference=reference,
            answers={label: texts[n] for label, texts in answers.items()},
            judgements={label: r.judgements[n] for label, r in judged.items() if n in r.judgements},
            judge_failures={label: r.failures[n] for label, r in judged.items() if n in r.failures},
            pairwise=pairwise.outcomes.get(n) if pairwise else None,
        )
        for n, (instruction, reference) in enumerate(samples)
    ]


def evaluate_models(
    models: Contestants, samples: Sequence[tuple[str, str]], metrics: TextMetrics, config: EvaluationConfig
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
        rows=_rows(samples, answers, judged, pairwise),
        judge_usage=usage,
    )


def sample_chunks(index: VectorIndex, count: int, seed: int) -> list[tuple[str, str]]:
    """(chunk_id, text) of `count` chunks drawn from every embedded collection, the same ones for a seed."""
    chunks = sorted(
        (str(point.payload["chunk_id"]), str(point.payload["content"]))
        for collection in EMBEDDED_COLLECTIONS.values()
        for point in index.scroll(collection)
    )
    return random.Random(seed).sample(chunks, min(count, len(chunks)))


def generate_retrieval_questions(
    chat: ChatModel, chunks: Sequence[tuple[str, str]], config: EvaluationConfig
) -> list[tuple[str, str]]:
    """A (question, chunk_id) per (chunk_id, text) chunk, written from that chunk; unusable ones dropped."""
    conversations = [
        render_conversation(config.question_prompt, passage=text, author="the author") for _, text in chunks
    ]
    parsed, _, failures = generate_parsed(
        chat,
        conversations,
        lambda n, text: parse_instruction(text, chunks[n][1]),
        config.question_generation,
        config.batch_size,
        config.max_retries,
    )
    if failures:
        logger.warning("No usable question for {}/{} chunks", len(failures), len(chunks))
    return [(parsed[n], chunks[n][0]) for n in sorted(parsed)]


def _search_all(index: VectorIndex, vector: Sequence[float], k: int) -> list[str]:
    """Chunk ids of the `k` best points over every embedded collection, merged by score."""
    points = [point for name in EMBEDDED_COLLECTIONS.values() for point in index.search(name, vector, k)]
    return [str(point.payload["chunk_id"]) for point in sorted(points, key=lambda p: -p.score)[:k]]


def evaluate_retrieval(
    index: VectorIndex, embedder: Embedder, questions: Sequence[tuple[str, str]], k: int
) -> dict[str, float]:
    """hit@k and MRR@k of (question, chunk_id) pairs, each question written from the chunk it should find."""
    if not questions:
        raise TwinError(
            "No retrieval questions to evaluate; set retrieval_queries above 0 and check the writer."
        )
    for name in EMBEDDED_COLLECTIONS.values():
        # Also checks that the collections were embedded with this embedder's dimension.
        index.ensure_collection(name, vector_size=embedder.dimension)
    vectors = embedder.embed([question for question, _ in questions])
    ranked = [_search_all(index, vector, k) for vector in vectors]
    relevant = [chunk_id for _, chunk_id in questions]
    metrics = {"hit_at_k": ev.hit_at_k(ranked, relevant, k), "mrr": ev.mean_reciprocal_rank(ranked, relevant)}
    logger.info("Retrieval over {} questions: {}", len(questions), metrics)
    return {**metrics, "k": k, "queries": len(questions)}
