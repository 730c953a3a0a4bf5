"""Retrieval with fakes (in-memory index, hashing embedder, scripted rewriter) and on embedded Qdrant."""

from pathlib import Path

import pytest

from llm_engineering.application.retrieval import HybridReranker, RetrievalConfig, Retriever
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import RetrievedChunk
from tests.support import rag
from tests.support.fakes import HashingEmbedder, InMemoryVectorIndex, ScriptedChatModel

ONE_QUERY = RetrievalConfig(queries=1, top_k=3)


def rewriter(user: str, attempt: int) -> str:
    return (
        "1. How does she split documents into chunks?\n2. What chunk overlap does she use?\n3. extra one here"
    )


def retriever(index: object, config: RetrievalConfig = ONE_QUERY, expander: object = None) -> Retriever:
    return Retriever(index, HashingEmbedder(), HybridReranker(), expander, rag.authors, config)  # type: ignore[arg-type]


@pytest.fixture
def index() -> InMemoryVectorIndex:
    store = InMemoryVectorIndex()
    rag.fill(store, HashingEmbedder())
    return store


def test_self_query_filters_on_the_named_author(index: InMemoryVectorIndex) -> None:
    found = retriever(index).retrieve("How does Iris Calder chunk documents?")
    assert found.filters.author_id == rag.AUTHORS["Iris Calder"] and found.filters.platform is None
    assert found.chunks and {c.author_full_name for c in found.chunks} == {"Iris Calder"}
    assert found.chunks[0].content.startswith("I chunk documents by paragraph")


def test_without_a_name_every_author_is_searched(index: InMemoryVectorIndex) -> None:
    found = retriever(index, RetrievalConfig(queries=1, top_k=6)).retrieve("How should documents be chunked?")
    assert found.filters.author_id is None
    assert {c.author_full_name for c in found.chunks} == {"Iris Calder", "Tom Okafor"}


def test_platform_filter_and_self_query_switch(index: InMemoryVectorIndex) -> None:
    found = retriever(index).retrieve("What did Calder post on LinkedIn about retries?")
    assert found.filters.platform == "linkedin" and {c.platform for c in found.chunks} == {"linkedin"}
    off = retriever(index, ONE_QUERY.model_copy(update={"self_query": False}))
    assert off.retrieve("What did Calder post on LinkedIn?").filters.where() == {}


def test_self_query_never_creates_authors(index: InMemoryVectorIndex) -> None:
    asked: list[int] = []

    def authors() -> dict[str, str]:
        asked.append(1)
        return rag.authors()

    found = Retriever(index, HashingEmbedder(), HybridReranker(), None, authors, ONE_QUERY).retrieve(
        "What does Ada Lovelace think about retries?"
    )
    assert found.filters.author_id is None and asked == [1]


def test_expansion_searches_each_rewrite_and_merges_duplicates(index: InMemoryVectorIndex) -> None:
    model = ScriptedChatModel(rewriter)
    embedder = HashingEmbedder()
    config = RetrievalConfig(queries=3, top_k=10, k_per_search=10)
    found = Retriever(index, embedder, HybridReranker(), model, rag.authors, config).retrieve(
        "How does Calder chunk documents?"
    )
    assert found.queries == [
        "How does Calder chunk documents?",
        "How does she split documents into chunks?",
        "What chunk overlap does she use?",
    ]
    assert embedder.embedded == found.queries  # one embedding call for all of them
    ids = [c.chunk_id for c in found.chunks]
    assert len(ids) == len(set(ids)) == 4  # every Calder chunk once, though each query found it
    assert set(found.timings_s) == {"self_query", "query_expansion", "search", "rerank"}


def test_one_query_asks_no_model(index: InMemoryVectorIndex) -> None:
    model = ScriptedChatModel(rewriter)
    Retriever(index, HashingEmbedder(), HybridReranker(), model, rag.authors, ONE_QUERY).retrieve("chunking?")
    assert model.asked == []
    with pytest.raises(TwinError, match="needs a chat model"):
        Retriever(index, HashingEmbedder(), HybridReranker(), None, rag.authors, RetrievalConfig(queries=2))


def test_an_empty_feature_store_says_which_pipeline_to_run(tmp_path: Path) -> None:
    from llm_engineering.infrastructure.vector_index.edge import EdgeVectorIndex

    with pytest.raises(TwinError, match="run `poe run-feature-engineering-pipeline`"):
        retriever(EdgeVectorIndex(tmp_path / "qdrant")).retrieve("chunking?")


def chunk(chunk_id: str, content: str, score: float) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id,
        document_id="d",
        collection="embedded_posts",
        link="",
        platform="blog",
        author_full_name="Iris Calder",
        content=content,
        score=score,
    )


def test_hybrid_reranker_lifts_an_exact_term_match_and_scores_by_fusion() -> None:
    hits = [
        chunk("a", "Filtered search is fast with payload indexes.", 0.9),
        chunk("b", "Indexes help.", 0.8),
        chunk("c", "HNSW ef_construct of 256 fixed recall for us.", 0.7),
    ]
    ranked = HybridReranker(rrf_k=1).rerank("What ef_construct do you use?", hits, keep=2)
    assert [c.chunk_id for c in ranked] == ["c", "a"]
    assert ranked[0].score == pytest.approx(1 / 4 + 1 / 2)  # dense rank 3, BM25 rank 1
    assert HybridReranker().rerank("q", [], keep=3) == []


def test_on_the_embedded_qdrant_engine_with_a_missing_collection(tmp_path: Path) -> None:
    from llm_engineering.infrastructure.vector_index.edge import EdgeVectorIndex

    index = EdgeVectorIndex(tmp_path / "qdrant")
    stored = rag.fill(index, HashingEmbedder(), categories=(DataCategory.ARTICLES,))  # no embedded_posts
    found = retriever(index).retrieve("How does Iris Calder chunk documents?")
    assert found.chunks[0].chunk_id == str(stored[0].id)
    assert {c.collection for c in found.chunks} == {"embedded_articles"}
    assert {c.author_full_name for c in found.chunks} == {"Iris Calder"}
