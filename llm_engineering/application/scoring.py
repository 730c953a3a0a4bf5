"""Each evaluated model's answers to the test split, its scores, and the per-sample rows a report keeps."""

from collections.abc import Sequence

from loguru import logger
from pydantic import BaseModel, Field

from llm_engineering.application.evaluation_config import EvaluationConfig, ReferenceMetrics
from llm_engineering.application.judging import JudgeResults, PairwiseResults
from llm_engineering.application.ports import ChatModel
from llm_engineering.domain.evaluation import ModelScores
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT, ChatMessage
from llm_engineering.domain.judgement import Judgement
from llm_engineering.domain.pairwise import PairwiseOutcome


class SampleRow(BaseModel):
    """One test sample as the results dataset stores it; models are keyed by their label."""

    instruction: str
    reference: str
    answers: dict[str, str]
    judgements: dict[str, Judgement] = Field(default_factory=dict)
    judge_failures: dict[str, str] = Field(default_factory=dict)
    pairwise: PairwiseOutcome | None = Field(None, description="Who won against production, if compared.")


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


def score_model(
    label: str,
    answers: Sequence[str],
    references: Sequence[str],
    *,
    judged: JudgeResults,
    win_rate: float | None,
    metrics: ReferenceMetrics,
) -> ModelScores:
    """Judge means over the judged answers, each reference metric and the length over all answers."""
    if not judged.judgements:
        reasons = "; ".join(sorted(set(judged.failures.values()))[:3])
        raise TwinError(
            f"The judge scored none of the {len(answers)} answers of {label} ({reasons}). "
            "Use a larger judge model, or raise max_retries or judge_generation.max_new_tokens."
        )
    scores = list(judged.judgements.values())
    return ModelScores(
        model=label,
        judge_accuracy=sum(j.accuracy for j in scores) / len(scores),
        judge_style=sum(j.style for j in scores) / len(scores),
        win_rate=win_rate,
        reference={name: metric(answers, references) for name, metric in metrics.items()},
        answer_words=sum(len(a.split()) for a in answers) / len(answers),
        samples=len(answers),
        judged=len(scores),
    )


def sample_rows(
    samples: Sequence[tuple[str, str]],
    answers: dict[str, list[str]],
    judged: dict[str, JudgeResults],
    pairwise: PairwiseResults | None,
) -> list[SampleRow]:
    """A row per test sample: each model's answer, its judgement or why it has none, and who won the pair."""
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
