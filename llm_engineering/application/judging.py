"""The judge's part of an evaluation: scoring each answer, and picking the better of two answers."""

import random
from collections.abc import Sequence
from typing import cast

from loguru import logger
from pydantic import BaseModel, Field

from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.generation import generate_parsed
from llm_engineering.application.ports import ChatModel, ChoiceScorer
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain import pairwise
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import UsageTotals
from llm_engineering.domain.judgement import (
    CRITERIA,
    SCORE_CHOICES,
    Judgement,
    judgement_from_choices,
    parse_judgement,
)


class JudgeResults(BaseModel):
    """A judge's scores by sample index, and why each other sample got none."""

    judgements: dict[int, Judgement] = Field(default_factory=dict)
    failures: dict[int, str] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)


class PairwiseResults(BaseModel):
    """Which model won each judged pair, by sample index, and why each other pair got no verdict."""

    outcomes: dict[int, pairwise.PairwiseOutcome] = Field(default_factory=dict)
    failures: dict[int, str] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)

    def win_rate(self) -> float:
        """The candidate's share of wins over the judged pairs, a tie counting half."""
        if not self.outcomes:
            raise TwinError(
                f"The judge gave no readable verdict on any of {len(self.failures)} pairs; "
                "use a larger judge model, or raise max_retries."
            )
        return pairwise.win_rate(list(self.outcomes.values()))


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
    parsed, usage, failures, _ = generate_parsed(
        judge,
        conversations,
        lambda _, text: parse_judgement(text).model_dump_json(),
        config.judge_generation,
        config.batch_size,
        config.max_retries,
    )
    if failures:
        logger.warning("The judge gave no readable score for {}/{} answers", len(failures), len(answers))
    judgements = {i: Judgement.model_validate_json(text) for i, text in parsed.items()}
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
            SCORE_CHOICES,
        )
        for criterion in CRITERIA
    }
    judgements = {
        n: judgement_from_choices(by_criterion["accuracy"][n], by_criterion["style"][n])
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
    orders = [pairwise.order_pair(c, o, rng) for c, o in zip(*contenders, strict=True)]
    conversations = [
        render_conversation(config.pairwise_prompt, instruction=i, reference=r, answer_a=a, answer_b=b)
        for i, r, (a, b, _) in zip(instructions, references, orders, strict=True)
    ]
    if config.judge_mode == "choice":
        chances = choice_scorer(judge).choice_probabilities(conversations, ("A", "B"))
        verdicts = [pairwise.verdict_from_choices(p) for p in chances]
        outcomes = {n: pairwise.pairwise_outcome(v, orders[n][2]) for n, v in enumerate(verdicts)}
        return PairwiseResults(outcomes=outcomes)
    parsed, usage, failures, _ = generate_parsed(
        judge,
        conversations,
        lambda _, text: pairwise.parse_pairwise(text),
        config.pairwise_generation,
        config.batch_size,
        config.max_retries,
    )
    outcomes = {
        i: pairwise.pairwise_outcome(cast(pairwise.PairwiseVerdict, v), orders[i][2])
        for i, v in parsed.items()
    }
    return PairwiseResults(outcomes=outcomes, failures=failures, usage=usage)
