"""Retrieval quality: questions written from chunks, and hit@k / MRR of finding each one's own chunk."""

import json
from uuid import uuid4

from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.ports import VectorPoint
from llm_engineering.application.retrieval_quality import (
    generate_retrieval_questions,
    sample_chunks,
)
from tests.support.fakes import HashingEmbedder, InMemoryVectorIndex, ScriptedChatModel

CONFIG = EvaluationConfig(batch_size=4, max_retries=2)


CHUNKS = {
    "embedded_articles": [
        "qdrant payload indexes speed filtered vector search",
        "mongodb warehouse keeps documents unique by link",
    ],
    "embedded_posts": [
        "selenium crawls linkedin posts behind a login",
        "minhash finds near duplicate samples cheaply",
    ],
    "embedded_repositories": ["pytest fixtures build temporary git repositories"],
}


def feature_store(embedder: HashingEmbedder) -> tuple[InMemoryVectorIndex, dict[str, str]]:
    """Chunks spread over the embedded collections; returns the index and each chunk's id by its text."""
    index, ids = InMemoryVectorIndex(), {}
    for collection, texts in CHUNKS.items():
        index.ensure_collection(collection, embedder.dimension)
        points = []
        for text, vector in zip(texts, embedder.embed(texts), strict=True):
            ids[text] = str(uuid4())
            points.append(
                VectorPoint(id=uuid4(), payload={"chunk_id": ids[text], "content": text}, vector=vector)
            )
        index.upsert(collection, points)
    return index, ids


def question_writer(user: str, attempt: int) -> str:
    """Asks about a chunk in its first four words (all of them would be refused as an echo of the chunk);
    answers the minhash chunk with chatter that holds no question."""
    passage = user.split("Text by the author:")[1].split("Write one question")[0].strip()
    if passage.startswith("minhash"):
        return "Sure!"
    return json.dumps({"instruction": f"Why {' '.join(passage.split()[:4])} ?"})


def test_questions_are_written_per_chunk_and_find_their_chunk() -> None:
    embedder = HashingEmbedder()
    index, ids = feature_store(embedder)
    chunks = sample_chunks(index, count=10, seed=1)
    assert sorted(text for _, text in chunks) == sorted(ids) and sample_chunks(index, 10, seed=1) == chunks
    assert len(sample_chunks(index, count=2, seed=1)) == 2
    chat = ScriptedChatModel(question_writer)
    questions = generate_retrieval_questions(chat, chunks, CONFIG)
    by_chunk = {chunk_id: question for question, chunk_id in questions}
    minhash = ids["minhash finds near duplicate samples cheaply"]
    assert minhash not in by_chunk and len(by_chunk) == len(ids) - 1
    assert by_chunk[ids["qdrant payload indexes speed filtered vector search"]] == (
        "Why qdrant payload indexes speed ?"
    )
    assert chat.asked.count(next(u for u in chat.asked if "minhash" in u)) == CONFIG.max_retries + 1
