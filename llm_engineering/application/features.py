"""The feature use case: warehouse documents → cleaned → chunked → embedded → feature store, incrementally."""

from collections.abc import Iterator, Mapping, Sequence
from uuid import UUID

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.ports import DocumentStore, Embedder, VectorIndex, VectorPoint, Where
from llm_engineering.domain.chunking import ChunkingConfig, chunk_document
from llm_engineering.domain.cleaning import CLEANING_VERSION, clean_document
from llm_engineering.domain.documents import DataCategory, RawDocuments, UserDocument, split_full_name
from llm_engineering.domain.exceptions import MassRemovalError, TwinError
from llm_engineering.domain.features import (
    CLEANED_COLLECTIONS,
    EMBEDDED_COLLECTIONS,
    Chunk,
    CleanedDocument,
    EmbeddedChunk,
    EmbeddedDocuments,
    FeaturePlan,
    Fingerprint,
    IndexedDocument,
    mass_removals,
    plan_update,
)


class FeatureConfig(BaseModel):
    """Every tunable of the feature_engineering pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedding_group_size: int = Field(
        4096, gt=0, description="Chunks per embedding call; the model batches within it, sorted by length."
    )
    max_removal_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Largest share of an author's indexed documents one run may remove from the feature "
        "store; a run that would remove more refuses before deleting anything, since a warehouse that lost "
        "documents looks just like an author who deleted them.",
    )
    allow_mass_removal: bool = Field(
        False,
        description="Remove more than `max_removal_share` anyway, when the documents were deleted on purpose "
        "(`--allow-mass-removal` on the pipeline command).",
    )


def query_data_warehouse(store: DocumentStore, author_full_names: Sequence[str]) -> RawDocuments:
    """Every document of the named authors; an unknown author is an error, never created."""
    raw = RawDocuments()
    for full_name in author_full_names:
        user = store.find_user(*split_full_name(full_name))
        if user is None:
            known = ", ".join(u.full_name for u in store.list_users()) or "none"
            raise TwinError(
                f"No author named {full_name!r} in the warehouse (known: {known}). "
                "Crawl them first with `poe run-digital-data-etl`."
            )
        raw.authors.append(user)
        raw.articles.extend(store.iter_documents(DataCategory.ARTICLES, author_id=user.id))  # type: ignore[arg-type]
        raw.posts.extend(store.iter_documents(DataCategory.POSTS, author_id=user.id))  # type: ignore[arg-type]
        raw.repositories.extend(
            store.iter_documents(DataCategory.REPOSITORIES, author_id=user.id)  # type: ignore[arg-type]
        )
    return raw


def clean_documents(raw: RawDocuments) -> list[CleanedDocument]:
    return [clean_document(document) for document in raw.all()]


def indexed_documents(index: VectorIndex, author_ids: Sequence[UUID]) -> dict[UUID, IndexedDocument]:
    """The category and fingerprint of every document of these authors the feature store holds."""
    if not author_ids:
        return {}
    where: Where = {"author_id": [str(author_id) for author_id in author_ids]}
    indexed: dict[UUID, IndexedDocument] = {}
    for category, collection in CLEANED_COLLECTIONS.items():
        index.ensure_collection(collection, vector_size=None)
        for point in index.scroll(collection, where):
            indexed[point.id] = IndexedDocument(
                category=category,
                fingerprint=stored_fingerprint(point.payload),
                author_id=UUID(str(point.payload["author_id"])),
            )
    return indexed


def fingerprints(
    documents: Sequence[CleanedDocument], chunking: ChunkingConfig, embedder: Embedder
) -> dict[UUID, Fingerprint]:
    """What each document would be indexed under in this run, by id."""
    digest = chunking.digest()
    return {
        document.id: Fingerprint(
            content_hash=document.content_hash,
            cleaning_version=CLEANING_VERSION,
            chunking_digest=digest,
            embedding_model_id=embedder.model_id,
        )
        for document in documents
    }


def chunk_documents(
    documents: Sequence[CleanedDocument], embedder: Embedder, config: ChunkingConfig
) -> list[Chunk]:
    return [
        chunk
        for document in documents
        for chunk in chunk_document(document, embedder.count_tokens, embedder.max_tokens, config)
    ]


def embed_chunks(chunks: Sequence[Chunk], embedder: Embedder, group_size: int) -> list[EmbeddedChunk]:
    """Embed in groups, logging progress; each group is one batched model call."""
    embedded: list[EmbeddedChunk] = []
    for start in range(0, len(chunks), group_size):
        group = chunks[start : start + group_size]
        vectors = embedder.embed([chunk.content for chunk in group])
        embedded.extend(EmbeddedChunk(chunk=c, embedding=v) for c, v in zip(group, vectors, strict=True))
        logger.info("Embedded {}/{} chunks", len(embedded), len(chunks))
    return embedded


def check_removals(
    plan: FeaturePlan,
    indexed: dict[UUID, IndexedDocument],
    authors: Sequence[UserDocument],
    config: FeatureConfig,
) -> None:
    """Refuse a plan that removes more than `max_removal_share` of an author's documents, unless allowed."""
    if config.allow_mass_removal:
        return
    names: dict[UUID | None, str] = {author.id: author.full_name for author in authors}
    losses = "; ".join(
        f"{loss.removed} of the {loss.indexed} indexed documents of {names.get(loss.author_id, 'unknown')}"
        for loss in mass_removals(plan, indexed, config.max_removal_share)
    )
    if losses:
        raise MassRemovalError(
            f"This run would remove {losses} from the feature store, more than max_removal_share "
            f"({config.max_removal_share:.0%}) allows, so it removed nothing. If the warehouse lost them, "
            "restore it (`poe run-import-data-warehouse-from-json` from an export) and run again; if they "
            "were deleted on purpose, run again with `--allow-mass-removal` (or `allow_mass_removal: true` "
            "in the run config's FeatureConfig)."
        )


def embed_changes(
    cleaned: Sequence[CleanedDocument],
    authors: Sequence[UserDocument],
    index: VectorIndex,
    embedder: Embedder,
    config: FeatureConfig,
) -> EmbeddedDocuments:
    """Chunk and embed only the documents that are new, or whose fingerprint changed since they were indexed.

    Documents of these authors that the feature store holds but `cleaned` lacks are planned for removal;
    too many of one author's refuse the run before anything is embedded or deleted.
    """
    wanted = fingerprints(cleaned, config.chunking, embedder)
    indexed = indexed_documents(index, [author.id for author in authors])
    plan = plan_update(wanted, indexed)
    logger.info("Feature plan: {}, changed because: {}", plan.counts(), plan.reason_counts())
    check_removals(plan, indexed, authors, config)
    todo = set(plan.new) | set(plan.changed)
    chunks = chunk_documents([d for d in cleaned if d.id in todo], embedder, config.chunking)
    embedded = embed_chunks(chunks, embedder, config.embedding_group_size)
    return EmbeddedDocuments(
        plan=plan,
        model_id=embedder.model_id,
        dimension=embedder.dimension,
        chunks=embedded,
        fingerprints={doc_id: wanted[doc_id] for doc_id in todo},
    )


def _by_category(items: Iterator[tuple[DataCategory, VectorPoint]]) -> dict[DataCategory, list[VectorPoint]]:
    grouped: dict[DataCategory, list[VectorPoint]] = {}
    for category, point in items:
        grouped.setdefault(category, []).append(point)
    return grouped


def load_features(
    index: VectorIndex, cleaned: Sequence[CleanedDocument], embedded: EmbeddedDocuments
) -> None:
    """Apply a plan: drop stale chunks, write new ones, then record the fingerprints of what was indexed.

    Every chunk of a changed document goes, whatever its index, so a new cut with fewer chunks leaves no
    orphans. Fingerprints go last so that a run that stops halfway leaves those documents to be indexed again.
    """
    plan = embedded.plan
    for category in EMBEDDED_COLLECTIONS:
        index.ensure_collection(EMBEDDED_COLLECTIONS[category], vector_size=embedded.dimension)
        index.ensure_collection(CLEANED_COLLECTIONS[category], vector_size=None)
    stale = [*plan.changed, *plan.removed]
    if stale:
        for collection in EMBEDDED_COLLECTIONS.values():
            index.delete_where(collection, {"document_id": [str(doc_id) for doc_id in stale]})
    for doc_id, category in plan.removed.items():
        index.delete_where(CLEANED_COLLECTIONS[category], {"document_id": str(doc_id)})
    chunk_points = _by_category(
        (e.chunk.category, VectorPoint(id=e.chunk.id, payload=e.chunk.payload(), vector=e.embedding))
        for e in embedded.chunks
    )
    for category, points in chunk_points.items():
        index.upsert(EMBEDDED_COLLECTIONS[category], points)
    todo = set(plan.new) | set(plan.changed)
    cleaned_points = _by_category(
        (d.category, VectorPoint(id=d.id, payload=cleaned_payload(d, embedded.fingerprints[d.id])))
        for d in cleaned
        if d.id in todo
    )
    for category, points in cleaned_points.items():
        index.upsert(CLEANED_COLLECTIONS[category], points)


def cleaned_payload(document: CleanedDocument, fingerprint: Fingerprint) -> dict[str, object]:
    """The payload of a `cleaned_*` point: the cleaned text, its sections, its origin and its fingerprint."""
    data = document.model_dump(mode="json")
    data["document_id"] = data.pop("id")
    data["content"] = document.content
    data.update(fingerprint.model_dump(mode="json"))
    return data


def stored_fingerprint(payload: Mapping[str, object]) -> Fingerprint | None:
    """The fingerprint a `cleaned_*` payload was written with; None if written before fingerprints existed."""
    if any(name not in payload for name in Fingerprint.model_fields):
        return None
    return Fingerprint.model_validate({name: payload[name] for name in Fingerprint.model_fields})


def update_feature_store(
    store: DocumentStore,
    index: VectorIndex,
    embedder: Embedder,
    author_full_names: Sequence[str],
    config: FeatureConfig,
) -> EmbeddedDocuments:
    """The whole feature run in one call, as the pipeline's steps run it one after another."""
    raw = query_data_warehouse(store, author_full_names)
    cleaned = clean_documents(raw)
    embedded = embed_changes(cleaned, raw.authors, index, embedder, config)
    load_features(index, cleaned, embedded)
    return embedded
