"""Retrieval questions: chunks sampled from the feature store, and a question written from each."""

import random
from collections.abc import Sequence

from loguru import logger

from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.generation import generate_parsed
from llm_engineering.application.ports import ChatModel, VectorIndex
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain.dataset_answers import parse_instruction
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS

RETRIEVAL_METRICS = ("hit_at_k", "mrr")
"""The retrieval scores among `RagQuality.retrieval`; `k` and `queries` describe how they were measured."""


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
    parsed, _, failures, _ = generate_parsed(
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
