"""Advanced retrieval: self-query filters, query expansion, parallel filtered search, reranking."""

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.ports import (
    ChatModel,
    Embedder,
    Reranker,
    ScoredPoint,
    VectorIndex,
    Where,
)
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain import retrieval as rt
from llm_engineering.domain.exceptions import CollectionNotFoundError, TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.domain.generation import GenerationConfig
from llm_engineering.domain.inference import QueryFilters, RetrievedChunk


class RetrievalConfig(BaseModel):
    """Every tunable of retrieval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    self_query: bool = Field(
        True, description="Read an author (and platform) named in the question as filters."
    )
    queries: int = Field(
        3, ge=1, le=10, description="Searches per question: the question and N-1 LLM rewrites."
    )
    k_per_search: int = Field(8, gt=0, description="Hits per collection per search.")
    top_k: int = Field(4, gt=0, description="Chunks kept after reranking, for the prompt.")
    expansion_prompt: str = Field("query_expansion_v1", description="Template asking for rewrites.")
    expansion: GenerationConfig = Field(
        GenerationConfig(max_new_tokens=96, temperature=0.7, seed=7),
        description="How rewrites are generated; seeded so the same question searches the same way.",
    )
    search_threads: int = Field(4, gt=0, description="Searches run at once.")


class Retrieval(BaseModel):
    """What retrieval found for one question, and how long each stage took."""

    filters: QueryFilters
    queries: list[str]
    chunks: list[RetrievedChunk]
    reranker: str
    timings_s: dict[str, float]


class HybridReranker:
    """Offline default reranker: fuses the dense order with a BM25 order over the hits (reciprocal rank
    fusion), so exact terms a question shares with a chunk (names, APIs, numbers) count as well as meaning."""

    name = "hybrid-bm25-rrf"

    def __init__(self, rrf_k: int = 60) -> None:
        self.rrf_k = rrf_k

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk], keep: int) -> list[RetrievedChunk]:
        dense = [c.chunk_id for c in sorted(chunks, key=lambda c: -c.score)]
        lexical_scores = rt.bm25_scores(query, [c.content for c in chunks])
        # Only chunks sharing a term with the question get a lexical rank; the others would rank by chance.
        matching = sorted(
            ((score, c) for score, c in zip(lexical_scores, chunks, strict=True) if score > 0),
            key=lambda p: -p[0],
        )
        lexical = [c.chunk_id for _, c in matching]
        fused = rt.reciprocal_rank_fusion([dense, lexical], k=self.rrf_k)
        best = sorted(chunks, key=lambda c: (-fused[c.chunk_id], dense.index(c.chunk_id)))[:keep]
        return [c.model_copy(update={"score": fused[c.chunk_id]}) for c in best]


class Retriever:
    """Finds the author's passages for a question; the stores and models are passed in."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        reranker: Reranker,
        expander: ChatModel | None,
        authors: Callable[[], Mapping[str, str]],
        config: RetrievalConfig,
    ) -> None:
        if config.queries > 1 and expander is None:
            raise TwinError("Query expansion needs a chat model; pass one or set queries: 1.")
        self._index, self._embedder, self._reranker = index, embedder, reranker
        self._expander, self._authors, self.config = expander, authors, config

    def read_filters(self, question: str) -> QueryFilters:
        """Self-query: the author and platform the question names. Reads users; never creates them."""
        if not self.config.self_query:
            return QueryFilters()
        authors = self._authors()
        author = rt.find_author(question, authors)
        platform = rt.find_platform(question, rt.PLATFORM_WORDS)
        return QueryFilters(
            author_id=author, author_full_name=authors.get(author) if author else None, platform=platform
        )

    def expand(self, question: str) -> list[str]:
        """The question and up to `queries - 1` distinct rewrites of it."""
        if self.config.queries == 1 or self._expander is None:
            return [question]
        conversation = render_conversation(
            self.config.expansion_prompt, question=question, count=self.config.queries - 1
        )
        [completion] = self._expander.generate([conversation], self.config.expansion)
        rewrites = [
            v
            for v in rt.parse_query_variants(completion.text, self.config.queries)
            if rt.words(v) != rt.words(question)
        ]
        return [question, *rewrites[: self.config.queries - 1]]

    def search(self, queries: Sequence[str], filters: QueryFilters) -> list[RetrievedChunk]:
        """Every query in every embedded collection with the filters, in parallel; hits merged by chunk,
        each keeping its best score."""
        vectors = self._embedder.embed(list(queries))
        jobs = [(name, vector) for vector in vectors for name in EMBEDDED_COLLECTIONS.values()]
        with ThreadPoolExecutor(max_workers=min(self.config.search_threads, len(jobs))) as pool:
            results = list(pool.map(lambda job: self._search_one(job[0], job[1], filters), jobs))
        if all(result is None for result in results):
            raise TwinError(
                "The feature store has no embedded collections; run `poe run-feature-engineering-pipeline`."
            )
        best: dict[str, RetrievedChunk] = {}
        for (name, _), hits in zip(jobs, results, strict=True):
            for hit in hits or []:
                chunk = _chunk(name, hit)
                if chunk.chunk_id not in best or chunk.score > best[chunk.chunk_id].score:
                    best[chunk.chunk_id] = chunk
        return sorted(best.values(), key=lambda c: -c.score)

    def _search_one(
        self, name: str, vector: Sequence[float], filters: QueryFilters
    ) -> list[ScoredPoint] | None:
        try:
            where: Where | None = dict(filters.where()) or None
            return self._index.search(name, vector, self.config.k_per_search, where)
        except CollectionNotFoundError:
            return None  # an author with no posts has no embedded_posts: nothing to find there

    def retrieve(self, question: str) -> Retrieval:
        """Filters, rewrites, search, rerank, with each stage timed."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        filters = self.read_filters(question)
        timings["self_query"] = time.perf_counter() - started
        queries = self.expand(question)
        timings["query_expansion"] = time.perf_counter() - started - sum(timings.values())
        hits = self.search(queries, filters)
        timings["search"] = time.perf_counter() - started - sum(timings.values())
        chunks = self._reranker.rerank(question, hits, self.config.top_k)
        timings["rerank"] = time.perf_counter() - started - sum(timings.values())
        logger.debug(
            "Retrieved {} of {} hits for {} queries ({})", len(chunks), len(hits), len(queries), filters
        )
        return Retrieval(
            filters=filters, queries=queries, chunks=chunks, reranker=self._reranker.name, timings_s=timings
        )


def _chunk(collection: str, hit: ScoredPoint) -> RetrievedChunk:
    payload = hit.payload
    return RetrievedChunk(
        chunk_id=str(payload["chunk_id"]),
        document_id=str(payload["document_id"]),
        collection=collection,
        link=str(payload.get("link", "")),
        platform=str(payload.get("platform", "")),
        author_full_name=str(payload.get("author_full_name", "")),
        content=str(payload["content"]),
        score=hit.score,
    )
