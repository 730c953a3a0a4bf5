"""Retrieval quality: hit@k and MRR of questions written from chunks sampled from the feature store."""

import random
from collections.abc import Sequence

from loguru import logger

from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.generation import generate_parsed
from llm_engineering.application.ports import ChatModel, Embedder, VectorIndex
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain import evaluation as ev
from llm_engineering.domain.dataset_answers import parse_instruction
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS

RETRIEVAL_METRICS = ("hit_at_k", "mrr")
"""The scores among what `evaluate_retrieval` returns; `k` and `queries` describe how they were measured."""


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


def _search_all(index: VectorIndex, vector: Sequence[float], k: int) -> list[str]:
    """Chunk ids of the `k` best points over every embedded collection, merged by score."""
    points = [point for name in EMBEDDED_COLLECTIONS.values() for point in index.search(name, vector, k)]
    return [str(point.payload["chunk_id"]) for point in sorted(points, key=lambda p: -p.score)[:k]]


def measure_retrieval(
    index: VectorIndex, embedder: Embedder, writer: ChatModel, config: EvaluationConfig
) -> dict[str, float]:
    """hit@k and MRR of questions `writer` writes from chunks sampled from the feature store; {} when
    `retrieval_queries` is 0."""
    if config.retrieval_queries == 0:
        return {}
    chunks = sample_chunks(index, config.retrieval_queries, config.seed)
    questions = generate_retrieval_questions(writer, chunks, config)
    return evaluate_retrieval(index, embedder, questions, config.retrieval_k)


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
