"""Feature pipeline benchmark: throughput against raw embedding, incremental re-runs, filtered search.

Builds a synthetic warehouse (embedded, in a temporary folder), runs the feature use case on it with the real
embedding model and the embedded feature store, and prints ratios measured in this one run:

    python benchmarks/feature_engineering.py           # 2,500 documents, over 10,000 chunks
    python benchmarks/feature_engineering.py --quick   # a few hundred documents, under two minutes

The last line is `name=value …`.
"""

import argparse
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llm_engineering.application.features import (
    FeatureConfig,
    chunk_documents,
    clean_documents,
    update_feature_store,
)
from llm_engineering.application.features import query_data_warehouse as query
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.infrastructure.settings import Settings

WORDS = (
    "pipeline data model feature store vector query chunk embed token batch train evaluate serve latency "
    "throughput memory retrieval author article post repository clean split overlap cosine index payload "
    "filter rerank prompt answer source quality metric loss gradient adapter merge registry version stage "
    "the a of to and in that is it for on with as was by this be are from at or an have not which but"
).split()


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 22))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def build_warehouse(store, documents: int, authors: int, seed: int) -> list[str]:
    """Fill the store with a deterministic mix: 50% posts, 35% articles, 15% repositories."""
    rng = random.Random(seed)
    users = [store.get_or_create_user(f"Author{n}", "Synthetic") for n in range(authors)]
    for n in range(documents):
        user = users[n % authors]
        common = {"author_id": user.id, "author_full_name": user.full_name, "link": f"https://bench/{n}"}
        kind = n % 20
        if kind < 10:
            text = paragraph(rng, rng.randint(2, 6))
            store.insert(PostDocument(content={"text": text}, platform="linkedin", **common))
        elif kind < 17:
            body = "\n\n".join(paragraph(rng, rng.randint(3, 7)) for _ in range(rng.randint(8, 16)))
            content = {"title": sentence(rng), "body": body}
            store.insert(ArticleDocument(content=content, platform="blog", **common))
        else:
            files = {
                f"pkg/module_{f}.py": "\n\n".join(
                    f"def step_{f}_{i}(batch):\n    # {sentence(rng)}\n    return [x * {i} for x in batch]\n"
                    for i in range(rng.randint(6, 14))
                )
                for f in range(rng.randint(2, 5))
            }
            store.insert(RepositoryDocument(name=f"repo{n}", content=files, platform="git", **common))
    return [user.full_name for user in users]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure_search(index, embedder, author_ids: list[str], queries: int, seed: int) -> tuple[float, float]:
    """Latency of one query's filtered k=10 search over every embedded collection, in milliseconds."""
    rng = random.Random(seed)
    vectors = embedder.embed([sentence(rng) for _ in range(queries)])
    timings = []
    for n, vector in enumerate(vectors):
        where = {"author_id": author_ids[n % len(author_ids)]}
        started = time.perf_counter()
        for collection in EMBEDDED_COLLECTIONS.values():
            index.search(collection, vector, limit=10, where=where)
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 50), percentile(timings, 95)


def timed(function, *args) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="a few hundred documents, under two minutes")
    parser.add_argument("--documents", type=int, help="synthetic documents (default 2500; quick 200)")
    parser.add_argument("--authors", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ceiling-sample", type=int, default=2500, help="chunks encoded to time the ceiling")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    documents = args.documents or (200 if args.quick else 2500)

    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
    from llm_engineering.infrastructure.vector_index import open_vector_index
    from llm_engineering.infrastructure.warehouse.connection import connect_database
    from llm_engineering.infrastructure.warehouse.documents import MongoWarehouse

    with tempfile.TemporaryDirectory(prefix="twin-bench-") as folder:
        settings = Settings(data_dir=Path(folder))
        store = MongoWarehouse(connect_database(settings))
        names = build_warehouse(store, documents, args.authors, args.seed)
        index = open_vector_index(settings)
        embedder = SentenceTransformerEmbedder(settings.embedding_model_id)
        config = FeatureConfig()

        # The ceiling: chunk texts of this corpus through the same model and batch size, nothing else, as
        # chunks per second on a seeded sample (the whole corpus three times over would take too long). It is
        # timed before and after the pipeline run and averaged, so drift in the machine's speed cancels out;
        # every timed run follows a warm-up, since torch's first calls at each shape are slower.
        texts = [
            c.content
            for c in chunk_documents(clean_documents(query(store, names)), embedder, config.chunking)
        ]
        rng = random.Random(args.seed)
        sample = rng.sample(texts, min(args.ceiling_sample, len(texts)))
        embedder.embed(rng.sample(texts, min(256, len(texts))))
        ceiling_before_s = timed(embedder.embed, sample)

        started = time.perf_counter()
        embedded = update_feature_store(store, index, embedder, names, config)
        first_s = time.perf_counter() - started
        chunks = [e.chunk.content for e in embedded.chunks]
        assert sorted(chunks) == sorted(texts)
        ceiling_rate = len(sample) / ((ceiling_before_s + timed(embedder.embed, sample)) / 2)
        pipeline_rate = len(chunks) / first_s

        started = time.perf_counter()
        rerun = update_feature_store(store, index, embedder, names, config)
        rerun_s = time.perf_counter() - started
        assert rerun.plan.counts()["unchanged"] == documents, rerun.plan.counts()

        author_ids = [str(user.id) for user in store.list_users()]
        p50, p95 = measure_search(index, embedder, author_ids, args.queries, args.seed)
        indexed = sum(index.count(c) for c in EMBEDDED_COLLECTIONS.values())
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"documents: {documents}, chunks: {len(chunks)} (stored {indexed}), model: {embedder.model_id}")
    print(
        f"first run: {first_s:.1f} s = {pipeline_rate:.1f} chunks/s; raw encode: {ceiling_rate:.1f} chunks/s"
    )
    print(f"re-run with nothing changed: {rerun_s:.2f} s; filtered search p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(
        f"documents={documents} chunks={len(chunks)} throughput_ratio={pipeline_rate / ceiling_rate:.3f} "
        f"rerun_ratio={rerun_s / first_s:.4f} search_p50_ms={p50:.2f} search_p95_ms={p95:.2f} "
        f"peak_rss_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
