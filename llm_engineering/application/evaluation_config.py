"""What an evaluation run is given: its tunables, and the reference-overlap metrics passed in."""

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.generation import GenerationConfig

TextMetric = Callable[[Sequence[str], Sequence[str]], float]
"""A reference-overlap metric: (predictions, references) -> a score from 0 to 1."""


ReferenceMetrics = Mapping[str, TextMetric]
"""The reference-overlap metrics an evaluation computes, by name; implemented in infrastructure."""


class EvaluationConfig(BaseModel):
    """Every tunable of the evaluating pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_samples: int | None = Field(None, gt=0, description="Evaluate at most this many test samples.")
    batch_size: int = Field(
        32, gt=0, description="Conversations per generation call; local engines group them by length."
    )
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
        GenerationConfig(max_new_tokens=40, temperature=0.7, seed=42, stop=("\n",), answer_prefix="What"),
        description="How retrieval questions are written from chunks.",
    )
    reference_metrics: list[str] = Field(
        default_factory=lambda: ["rouge_l", "bleu"],
        description="Overlap metrics with the author's answers, by name; each guards promotion.",
    )
    tolerance: float = Field(
        0.02, ge=0, description="Largest absolute drop of a reference metric that a promotion allows."
    )
    judge_tolerance: float = Field(
        0.1, ge=0, description="Largest drop of the judge score (1 to 3) that a promotion allows."
    )
    fidelity_folds: int = Field(
        5, ge=2, description="Folds of the style verifier's cross-fitting over the author and base answers."
    )
    grounding_checker: Literal["embedding", "judge"] = Field(
        "embedding",
        description="Who says whether a passage supports an answer's sentence: embedding (the embedding "
        "model's similarity plus shared words; offline, blind to negation and numbers) or judge (the "
        "LLM_BACKEND model asked yes or no; worth it with a large OpenAI-compatible judge).",
    )
    service_config: str = Field(
        "configs/inference.yaml",
        description="The service's AnswerConfig YAML: its retriever and generation are the ones measured.",
    )
    seed: int = Field(42, description="Seed of the pairwise answer order and of the chunks sampled.")
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
