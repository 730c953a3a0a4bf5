"""Grounding of the twin's sourced answers: whether its cited passages, and any passage, back each claim."""

import math
from collections.abc import Sequence

from loguru import logger

from llm_engineering.application.ports import ChatModel, ChoiceScorer, Embedder, SupportChecker
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.generation import GenerationConfig
from llm_engineering.domain.grounding import (
    SUPPORT_CHOICES,
    GroundingSummary,
    answer_claims,
    grade_answer,
    parse_support,
    support_from_choices,
    word_overlap,
)
from llm_engineering.domain.segmentation import prose_blocks

# Calibrated with all-MiniLM-L6-v2 on the passages of tests/application/test_grounding.py (28 supporting
# pairs: restatements and loose paraphrases; 40 others: wrong passage, invented facts, on-topic inventions).
# Supporting pairs scored 0.54-0.97 against their best window, 0.40 for the loosest paraphrase; invented
# facts on other topics at most 0.45. Between them sit on-topic pairs that do not support (0.52-0.65): those
# at 0.61-0.65 share at most a third of the statement's content words, where supporting ones share half or
# more, so cosine alone at 0.55 let 4 of them through and cosine with overlap lets none (and misses 3
# paraphrases of the 28).
DEFAULT_THRESHOLD = 0.55
DEFAULT_MIN_OVERLAP = 0.4
# A yes or no fits in a few tokens; greedy, so that a verdict can be reproduced.
JUDGE_GENERATION = GenerationConfig(max_new_tokens=8, temperature=0.0)


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


def sentence_windows(passage: str, size: int) -> list[str]:
    """Every run of 1 to `size` consecutive sentences of the passage (the passage itself when it has none).

    >>> sentence_windows("Chunk first. Then embed. Then index.", 2)
    ['Chunk first.', 'Chunk first. Then embed.', 'Then embed.', 'Then embed. Then index.', 'Then index.']
    """
    sentences = [passage[a:b] for block in prose_blocks(passage) for a, b in block]
    windows = [
        " ".join(sentences[start : start + length])
        for start in range(len(sentences))
        for length in range(1, size + 1)
        if start + length <= len(sentences)
    ]
    return windows or [passage]


class EmbeddingSupport:
    """A `SupportChecker` that calls a passage supporting when one of its sentence windows is close in
    embedding space to the statement (cosine at least `threshold`) and the passage uses at least
    `min_overlap` of the statement's content words (defaults 0.55 and 0.4, calibrated for all-MiniLM-L6-v2
    as DEFAULT_THRESHOLD says; recalibrate for another embedder). Windows are runs of 1 to `window`
    sentences: a claim restates a sentence or two, and the whole passage dilutes the match.

    What it can judge: whether the passage talks about the same thing in similar words, so it catches
    invented facts on other topics and citations pointing at the wrong passage. What it cannot judge:
    negation ("does not overlap" matches "overlaps"), numbers and names swapped within a sentence ("512
    tokens" matches "2,000 tokens"), or whether the passage actually entails the statement. Use `JudgeSupport`
    where those matter; this one is cheap, deterministic and needs no LLM.
    """

    def __init__(
        self,
        embedder: Embedder,
        threshold: float = DEFAULT_THRESHOLD,
        min_overlap: float = DEFAULT_MIN_OVERLAP,
        window: int = 2,
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.min_overlap = min_overlap
        self.window = window
        self.name = f"embedding:{embedder.model_id}"

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Per pair, the cosine of the statement and the passage's best-matching sentence window."""
        statements = list(dict.fromkeys(statement for statement, _ in pairs))
        windows = {passage: sentence_windows(passage, self.window) for _, passage in pairs}
        texts = list(dict.fromkeys([*statements, *(w for ws in windows.values() for w in ws)]))
        vectors = dict(zip(texts, map(_unit, self.embedder.embed(texts)), strict=True)) if texts else {}
        return [
            max(
                sum(a * b for a, b in zip(vectors[statement], vectors[w], strict=True))
                for w in windows[passage]
            )
            for statement, passage in pairs
        ]

    def supports(self, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        return [
            similarity >= self.threshold and word_overlap(statement, passage) >= self.min_overlap
            for (statement, passage), similarity in zip(pairs, self.similarities(pairs), strict=True)
        ]


class JudgeSupport:
    """A `SupportChecker` that asks a judge model, one Yes/No question per pair, all pairs in one call.

    A judge that can score choices (`ChoiceScorer`) is read from its Yes/No probabilities, unless
    `choices` is False (servers without log-probabilities); any other judge writes its answer at
    temperature 0. An answer that says neither yes nor no counts as not supported and is added to
    `unreadable`.
    """

    def __init__(
        self,
        judge: ChatModel,
        prompt: str = "judge_support_v1",
        generation: GenerationConfig = JUDGE_GENERATION,
        choices: bool = True,
    ) -> None:
        self.judge = judge
        self.prompt = prompt
        self.generation = generation
        self.choices = choices
        self.name = f"judge:{judge.model_id}"
        self.unreadable = 0
        """Answers so far that said neither yes nor no."""

    def supports(self, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        conversations = [render_conversation(self.prompt, statement=s, passage=p) for s, p in pairs]
        if not conversations:
            return []
        if self.choices and isinstance(self.judge, ChoiceScorer):
            chances = self.judge.choice_probabilities(conversations, SUPPORT_CHOICES)
            return [support_from_choices(p) for p in chances]
        verdicts, unreadable = [], 0
        for completion in self.judge.generate(conversations, self.generation):
            try:
                verdicts.append(parse_support(completion.text))
            except MalformedAnswerError:
                unreadable += 1
                verdicts.append(False)
        if unreadable:
            logger.warning("{}/{} judge answers said neither yes nor no", unreadable, len(verdicts))
        self.unreadable += unreadable
        return verdicts


def measure_grounding(
    answers: Sequence[tuple[str, Sequence[str]]], checker: SupportChecker
) -> GroundingSummary:
    """Citation precision and unsupported claims of each (answer, passages in prompt order) pair.

    Every claim is checked against every passage, in one `supports` call over the distinct pairs: a
    citation holds when a passage it names supports the claim, a claim is unsupported when none does.
    """
    claimed = [(answer_claims(text), list(passages)) for text, passages in answers]
    pairs = list(dict.fromkeys((c.text, p) for claims, passages in claimed for c in claims for p in passages))
    verdicts = dict(zip(pairs, checker.supports(pairs) if pairs else [], strict=True))
    logger.info(
        "Checked {} claim-passage pairs of {} answers with {}", len(pairs), len(answers), checker.name
    )
    graded = [
        grade_answer(claims, [[verdicts[c.text, p] for p in passages] for c in claims])
        for claims, passages in claimed
    ]
    return GroundingSummary(answers=tuple(graded))
