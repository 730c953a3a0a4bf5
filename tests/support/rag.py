"""A small two-author feature store for the retrieval and service tests."""

from uuid import UUID, uuid5

from llm_engineering.application.ports import Embedder, VectorIndex, VectorPoint
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS, Chunk

NAMESPACE = UUID("5d1f2a3b-0000-4000-8000-000000000001")
AUTHORS = {"Iris Calder": str(uuid5(NAMESPACE, "iris")), "Tom Okafor": str(uuid5(NAMESPACE, "tom"))}
PASSAGES = [
    (
        "Iris Calder",
        DataCategory.ARTICLES,
        "blog",
        "I chunk documents by paragraph and keep a sentence of overlap.",
    ),
    (
        "Iris Calder",
        DataCategory.ARTICLES,
        "blog",
        "Retries need backoff and a budget, or they turn an outage worse.",
    ),
    (
        "Iris Calder",
        DataCategory.POSTS,
        "linkedin",
        "Qdrant payload indexes on author_id make filtered search fast.",
    ),
    (
        "Iris Calder",
        DataCategory.POSTS,
        "linkedin",
        "Evaluation sets must be frozen before you tune a single prompt.",
    ),
    (
        "Tom Okafor",
        DataCategory.ARTICLES,
        "medium",
        "I chunk documents into fixed windows of 512 tokens, no overlap.",
    ),
    (
        "Tom Okafor",
        DataCategory.POSTS,
        "linkedin",
        "Retries are fine without backoff when the service is internal.",
    ),
]


def chunks() -> list[Chunk]:
    return [
        Chunk(
            document_id=uuid5(NAMESPACE, f"doc-{n}"),
            chunk_index=0,
            section="",
            content=text,
            category=category,
            platform=platform,
            author_id=UUID(AUTHORS[author]),
            author_full_name=author,
            link=f"https://example.org/{author.split()[0].lower()}/{n}",
        )
        for n, (author, category, platform, text) in enumerate(PASSAGES)
    ]


def fill(
    index: VectorIndex, embedder: Embedder, categories: tuple[DataCategory, ...] | None = None
) -> list[Chunk]:
    """Embed the passages into their `embedded_*` collections; returns the chunks stored."""
    stored = [c for c in chunks() if categories is None or c.category in categories]
    vectors = embedder.embed([c.content for c in stored])
    for category in {c.category for c in stored}:
        index.ensure_collection(EMBEDDED_COLLECTIONS[category], embedder.dimension)
    for chunk, vector in zip(stored, vectors, strict=True):
        index.upsert(
            EMBEDDED_COLLECTIONS[chunk.category],
            [VectorPoint(id=chunk.id, payload=chunk.payload(), vector=vector)],
        )
    return stored


def authors() -> dict[str, str]:
    return {author_id: name for name, author_id in AUTHORS.items()}
