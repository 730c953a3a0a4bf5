"""Retrieval benchmark: the twin's retrieval (no LLM calls) against a naive RAG search, on the same store.

Fills an embedded feature store (Qdrant's engine in a temporary folder) with seeded synthetic chunks of three
authors across `embedded_articles`, `embedded_posts` and `embedded_repositories`, then times, question by
question and in alternating order so that drift in the machine's speed hits both alike:

- retrieval: `Retriever.retrieve` with queries=1 (no rewrites, so no LLM), self-query on, the hybrid BM25
  reranker and top_k 4; it embeds the question, reads the author from it, searches the three collections
  in parallel with the author filter, merges and reranks;
- bare search: what a naive RAG does for the same question: embed it, then one filtered vector search of
  each of the three collections (the author filter given, the same hits per collection), nothing else.

The goal is retrieval within 1.5 times the bare search (`ratio_p50`, `ratio_p95`); `search_only_*` times the
three filtered searches alone with a pre-computed vector, the floor under both.

Vectors are real all-MiniLM-L6-v2 embeddings, made cheaply: a pool of distinct sentences is embedded once,
and a chunk (three to six pool sentences) gets the normalised mean of its sentences' vectors, since encoding
10,000 whole chunks would take minutes on a small machine. `--exact-embeddings` encodes every chunk's own
text instead. Questions are always encoded for real, inside the timed calls.

    python benchmarks/retrieval.py           # 10,000 chunks, 200 questions
    python benchmarks/retrieval.py --quick   # 2,000 chunks, 50 questions, under two minutes

The last line is `name=value …`.
"""

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import UUID, uuid5

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from loguru import logger

from llm_engineering.application.ports import Embedder, VectorIndex, VectorPoint
from llm_engineering.application.retrieval import HybridReranker, RetrievalConfig, Retriever
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS, Chunk
from llm_engineering.infrastructure.settings import Settings

NAMESPACE = UUID("0b7e1c52-8a43-4f0e-9d3a-5c2f7e9b1a64")
AUTHORS = ("Iris Calder", "Tom Okafor", "Maya Lindqvist")
# Share of chunks per category, and the platforms their documents come from.
CATEGORIES = {
    DataCategory.ARTICLES: (0.4, ("medium", "substack", "blog")),
    DataCategory.POSTS: (0.4, ("linkedin",)),
    DataCategory.REPOSITORIES: (0.2, ("github",)),
}
SUBJECTS = (
    "the feature store", "a vector index", "the embedding model", "query expansion", "the reranker",
    "a LoRA adapter", "the training loop", "the evaluation set", "payload filtering", "the crawler",
    "chunk overlap", "the prompt template", "dynamic batching", "the warehouse", "the tokenizer",
    "gradient accumulation", "the inference service", "a cross-encoder", "cosine similarity", "the scheduler",
)  # fmt: skip
VERBS = (
    "pays off", "breaks down", "needs care", "saves hours", "adds latency", "hides bugs", "scales well",
    "drifts slowly", "fails loudly", "stays cheap", "gets noisy", "matters most",
)  # fmt: skip
CONDITIONS = (
    "once the corpus passes ten thousand chunks", "when every author has a filter", "under heavy load",
    "if nobody freezes the evaluation set", "with a small GPU", "on a two-core laptop", "in production",
    "after the first re-index", "when retries have no budget", "for long technical articles",
    "with greedy decoding", "when the cache is cold", "as soon as the schema changes",
)  # fmt: skip
NOUNS = ("batch", "chunk", "vector", "query", "token", "score", "payload", "record", "prompt", "answer")


def author_id(name: str) -> str:
    return str(uuid5(NAMESPACE, name))


def prose_sentence(rng: random.Random) -> str:
    extra = f" and {rng.choice(SUBJECTS)} {rng.choice(VERBS)}" if rng.random() < 0.4 else ""
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)}{extra} {rng.choice(CONDITIONS)}."


def code_line(rng: random.Random) -> str:
    noun, other = rng.sample(NOUNS, 2)
    verb = rng.choice(("load", "split", "embed", "score", "merge"))
    field = rng.choice(("ok", "size", "author"))
    return (
        f"def {verb}_{noun}s({other}s, limit={rng.randint(1, 512)}): "
        f"return [{noun} for {noun} in {other}s[:limit] if {noun}.{field}]"
    )


def sentence_pool(rng: random.Random, size: int, make: Callable[[random.Random], str]) -> list[str]:
    """`size` distinct sentences."""
    pool: dict[str, None] = {}
    while len(pool) < size:
        pool[make(rng)] = None
    return list(pool)


def synthetic_chunks(count: int, pools: dict[bool, list[str]], seed: int) -> list[tuple[Chunk, list[int]]]:
    """`count` chunks of documents of 1-5 chunks each, with the pool sentences each chunk is made of."""
    rng = random.Random(seed)
    categories = list(CATEGORIES)
    weights = [CATEGORIES[c][0] for c in categories]
    made: list[tuple[Chunk, list[int]]] = []
    while len(made) < count:
        category = rng.choices(categories, weights)[0]
        author, platform = rng.choice(AUTHORS), rng.choice(CATEGORIES[category][1])
        document = uuid5(NAMESPACE, f"document-{len(made)}")
        pool = pools[category == DataCategory.REPOSITORIES]
        for index in range(min(rng.randint(1, 5), count - len(made))):
            picked = rng.sample(range(len(pool)), rng.randint(3, 6))
            chunk = Chunk(
                document_id=document,
                chunk_index=index,
                section="",
                content=" ".join(pool[n] for n in picked),
                category=category,
                platform=platform,
                author_id=UUID(author_id(author)),
                author_full_name=author,
                link=f"https://bench.example/{author.split()[0].lower()}/{document}",
            )
            made.append((chunk, picked))
    return made


def mean_vector(vectors: Sequence[Sequence[float]]) -> list[float]:
    summed = [sum(column) for column in zip(*vectors, strict=True)]
    norm = math.sqrt(sum(value * value for value in summed)) or 1.0
    return [value / norm for value in summed]


def fill_store(
    index: VectorIndex, embedder: Embedder, chunks: int, pool_size: int, exact: bool, seed: int
) -> int:
    """Embed and upsert the synthetic chunks; returns how many texts went through the embedding model."""
    rng = random.Random(seed)
    pools = {
        False: sentence_pool(rng, pool_size, prose_sentence),
        True: sentence_pool(rng, pool_size // 4, code_line),
    }
    made = synthetic_chunks(chunks, pools, seed)
    if exact:
        vectors = embedder.embed([chunk.content for chunk, _ in made])
    else:
        pool_vectors = {kind: embedder.embed(pool) for kind, pool in pools.items()}
        vectors = [
            mean_vector([pool_vectors[c.category == DataCategory.REPOSITORIES][n] for n in picked])
            for c, picked in made
        ]
    for collection in EMBEDDED_COLLECTIONS.values():
        index.ensure_collection(collection, embedder.dimension)
    for category, collection in EMBEDDED_COLLECTIONS.items():
        points = [
            VectorPoint(id=chunk.id, payload=chunk.payload(), vector=vector)
            for (chunk, _), vector in zip(made, vectors, strict=True)
            if chunk.category == category
        ]
        index.upsert(collection, points)
    return len(made) if exact else sum(len(pool) for pool in pools.values())


def questions(count: int, seed: int) -> list[tuple[str, str]]:
    """(question, author) pairs; every question names its author, as self-query needs."""
    rng = random.Random(seed + 1)
    forms = (
        "What does {author} think about {subject} {condition}?",
        "How would {author} explain why {subject} {verb}?",
        "Does {author} say that {subject} {verb} {condition}?",
        "Has {author} written about {subject} and {noun}s?",
    )
    return [
        (
            rng.choice(forms).format(
                author=AUTHORS[n % len(AUTHORS)],
                subject=rng.choice(SUBJECTS),
                verb=rng.choice(VERBS),
                condition=rng.choice(CONDITIONS),
                noun=rng.choice(NOUNS),
            ),
            AUTHORS[n % len(AUTHORS)],
        )
        for n in range(count)
    ]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Contenders:
    """The ways of searching for one question that are timed against each other."""

    names = ("retrieval", "bare", "search_only")

    def __init__(self, index: VectorIndex, embedder: Embedder, retriever: Retriever) -> None:
        self.index, self.embedder, self.retriever = index, embedder, retriever
        self.author_ids = {name: author_id(name) for name in AUTHORS}
        self.stages: list[dict[str, float]] = []

    def retrieval(self, question: str, author: str, vector: list[float]) -> None:
        self.stages.append(self.retriever.retrieve(question).timings_s)

    def bare(self, question: str, author: str, vector: list[float]) -> None:
        [own] = self.embedder.embed([question])
        self.search_only(question, author, own)

    def search_only(self, question: str, author: str, vector: list[float]) -> None:
        where = {"author_id": self.author_ids[author]}
        for collection in EMBEDDED_COLLECTIONS.values():
            self.index.search(collection, vector, self.retriever.config.k_per_search, where)


def measure(contenders: Contenders, asked: list[tuple[str, str]], warmup: int) -> dict[str, list[float]]:
    """Milliseconds of each contender per question, in alternating order, after `warmup` untimed ones."""
    timings: dict[str, list[float]] = {name: [] for name in contenders.names}
    for n, (question, author) in enumerate(asked):
        [vector] = contenders.embedder.embed([question])
        order = contenders.names if n % 2 == 0 else contenders.names[::-1]
        for name in order:
            started = time.perf_counter()
            getattr(contenders, name)(question, author, vector)
            if n >= warmup:
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def check_retrieval(retriever: Retriever, question: str, author: str) -> None:
    """Fail before timing anything when retrieval would not filter on the author or find four chunks."""
    found = retriever.retrieve(question)
    if found.filters.author_full_name != author or len(found.chunks) != retriever.config.top_k:
        raise TwinError(
            f"Retrieval for {question!r} read {found.filters} and kept {len(found.chunks)} chunks; "
            f"expected {author}'s filter and {retriever.config.top_k} chunks. Check the synthetic store."
        )


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="2,000 chunks and 50 questions")
    parser.add_argument("--chunks", type=int, help="chunks in the store (default 10000; quick 2000)")
    parser.add_argument("--questions", type=int, help="timed questions (default 200; quick 50)")
    parser.add_argument("--pool", type=int, help="distinct sentences embedded (default 3000; quick 1000)")
    parser.add_argument("--exact-embeddings", action="store_true", help="encode every chunk's own text")
    parser.add_argument("--search-threads", type=int, help="the retriever's parallel searches (default 4)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed questions first")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logger.remove()  # time the code, not the terminal: retrieval logs a debug line per question
    logger.add(sys.stderr, level="INFO")
    chunks = args.chunks or (2000 if args.quick else 10_000)
    asked_count = args.questions or (50 if args.quick else 200)
    pool_size = args.pool or (1000 if args.quick else 3000)

    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
    from llm_engineering.infrastructure.vector_index import EdgeVectorIndex

    with tempfile.TemporaryDirectory(prefix="twin-retrieval-bench-") as folder:
        settings = Settings(data_dir=Path(folder))
        index = EdgeVectorIndex(settings.feature_store_dir)
        embedder = SentenceTransformerEmbedder(settings.embedding_model_id)
        started = time.perf_counter()
        encoded = fill_store(index, embedder, chunks, pool_size, args.exact_embeddings, args.seed)
        fill_s = time.perf_counter() - started

        authors = {author_id(name): name for name in AUTHORS}
        threads = {"search_threads": args.search_threads} if args.search_threads else {}
        config = RetrievalConfig(queries=1, self_query=True, top_k=4, **threads)
        retriever = Retriever(index, embedder, HybridReranker(), None, lambda: authors, config)
        contenders = Contenders(index, embedder, retriever)
        asked = questions(args.warmup + asked_count, args.seed)
        check_retrieval(contenders.retriever, *asked[0])
        timings = measure(contenders, asked, args.warmup)
        stored = sum(index.count(c) for c in EMBEDDED_COLLECTIONS.values())
        index.close()

    stats = {name: (percentile(v, 50), percentile(v, 95)) for name, v in timings.items()}
    print(f"chunks: {chunks} (stored {stored}), texts encoded to build it: {encoded} in {fill_s:.1f} s")
    for name, (p50, p95) in stats.items():
        print(f"{name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms over {len(timings[name])} questions")
    stages = contenders.stages[-asked_count:]
    print(
        "retrieval stages (search includes embedding the question), p50 ms: "
        + ", ".join(f"{name} {percentile([s[name] * 1000 for s in stages], 50):.2f}" for name in stages[0])
    )
    (r50, r95), (b50, b95), (s50, s95) = stats["retrieval"], stats["bare"], stats["search_only"]
    print(
        f"chunks={stored} questions={asked_count} retrieval_p50_ms={r50:.2f} retrieval_p95_ms={r95:.2f} "
        f"bare_search_p50_ms={b50:.2f} bare_search_p95_ms={b95:.2f} search_only_p50_ms={s50:.2f} "
        f"search_only_p95_ms={s95:.2f} ratio_p50={r50 / b50:.3f} ratio_p95={r95 / b95:.3f}"
    )


if __name__ == "__main__":
    main()
