"""What the feature pipeline makes of raw documents: cleaned text, chunks, and embedded chunks."""

from collections import Counter
from statistics import quantiles
from typing import Any, Literal, get_args
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.documents import DataCategory

# Namespace of chunk point ids: uuid5(namespace, f"{document_id}:{chunk_index}").
CHUNK_NAMESPACE = UUID("6f2c6f1e-3b1d-4c1e-9a57-2d8f6f0f1a11")

CLEANED_COLLECTIONS = {category: f"cleaned_{category}" for category in DataCategory if category != "users"}
EMBEDDED_COLLECTIONS = {category: f"embedded_{category}" for category in DataCategory if category != "users"}


class Section(BaseModel):
    """A part of a document that chunks never cross: a whole article or post, or one repository file."""

    model_config = ConfigDict(frozen=True)

    name: str
    text: str


class CleanedDocument(BaseModel):
    """A raw document's text after cleaning, with the hash of the raw content it came from."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    category: DataCategory
    sections: list[Section] = Field(min_length=1)
    platform: str
    author_id: UUID
    author_full_name: str
    link: str
    content_hash: str

    @property
    def content(self) -> str:
        return "\n\n".join(section.text for section in self.sections)


class CleanedDocuments(BaseModel):
    """The `cleaned_documents` artifact."""

    documents: list[CleanedDocument] = Field(default_factory=list)


class Chunk(BaseModel):
    """A piece of a cleaned document small enough for the embedding model."""

    model_config = ConfigDict(frozen=True)

    document_id: UUID
    chunk_index: int = Field(ge=0)
    section: str
    content: str
    category: DataCategory
    platform: str
    author_id: UUID
    author_full_name: str
    link: str

    @property
    def id(self) -> UUID:
        """Deterministic, so re-indexing a document overwrites its points instead of adding more."""
        return uuid5(CHUNK_NAMESPACE, f"{self.document_id}:{self.chunk_index}")

    def payload(self) -> dict[str, Any]:
        """The Qdrant payload of this chunk's point."""
        data = self.model_dump(mode="json")
        data["chunk_id"] = str(self.id)
        return data


class EmbeddedChunk(BaseModel):
    """A chunk and its embedding."""

    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    embedding: list[float]


# Why an indexed document is indexed again; "unfingerprinted": it was indexed before fingerprints existed.
ChangeReason = Literal["content", "cleaning", "chunking", "embedding_model", "unfingerprinted"]
CHANGE_REASONS: tuple[ChangeReason, ...] = get_args(ChangeReason)


class Fingerprint(BaseModel):
    """Everything that shapes a document's chunks and their vectors: if any part differs, index it again."""

    model_config = ConfigDict(frozen=True)

    content_hash: str = Field(description="SHA-256 of the raw content and the cleaning version.")
    cleaning_version: int
    chunking_digest: str = Field(description="`ChunkingConfig.digest()` of the config that cut the chunks.")
    embedding_model_id: str

    def changes_since(self, indexed: "Fingerprint | None") -> list[ChangeReason]:
        """Why a document indexed under `indexed` must be indexed again under this fingerprint; [] if not."""
        if indexed is None:
            return ["unfingerprinted"]
        reasons: list[ChangeReason] = []
        # The content hash folds in the cleaning version: a new version hides whether the content changed too.
        if indexed.cleaning_version != self.cleaning_version:
            reasons.append("cleaning")
        elif indexed.content_hash != self.content_hash:
            reasons.append("content")
        if indexed.chunking_digest != self.chunking_digest:
            reasons.append("chunking")
        if indexed.embedding_model_id != self.embedding_model_id:
            reasons.append("embedding_model")
        return reasons


class IndexedDocument(BaseModel):
    """What the feature store holds of a document: its category and the fingerprint it was indexed under."""

    model_config = ConfigDict(frozen=True)

    category: DataCategory
    fingerprint: Fingerprint | None = Field(description="None when indexed before fingerprints existed.")
    author_id: UUID | None = Field(None, description="Whose document it is, to bound how many of theirs go.")


class FeaturePlan(BaseModel):
    """Which documents a feature run indexes, and which it removes, compared to the feature store."""

    model_config = ConfigDict(frozen=True)

    new: list[UUID] = Field(default_factory=list)
    changed: list[UUID] = Field(default_factory=list)
    unchanged: list[UUID] = Field(default_factory=list)
    removed: dict[UUID, DataCategory] = Field(default_factory=dict)
    reasons: dict[UUID, list[ChangeReason]] = Field(
        default_factory=dict, description="Why each changed document is indexed again."
    )

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
        }

    def reason_counts(self) -> dict[str, int]:
        """Changed documents per reason, all reasons listed; one changed for two reasons counts twice."""
        counted = Counter(reason for reasons in self.reasons.values() for reason in reasons)
        return {reason: counted[reason] for reason in CHANGE_REASONS}


def plan_update(fingerprints: dict[UUID, Fingerprint], indexed: dict[UUID, IndexedDocument]) -> FeaturePlan:
    """Compare each document's fingerprint, by id, with what the feature store holds for that id."""
    new, unchanged, reasons = [], [], {}
    for doc_id, fingerprint in fingerprints.items():
        if doc_id not in indexed:
            new.append(doc_id)
        elif changes := fingerprint.changes_since(indexed[doc_id].fingerprint):
            reasons[doc_id] = changes
        else:
            unchanged.append(doc_id)
    removed = {doc_id: held.category for doc_id, held in indexed.items() if doc_id not in fingerprints}
    return FeaturePlan(new=new, changed=list(reasons), unchanged=unchanged, removed=removed, reasons=reasons)


class MassRemoval(BaseModel):
    """An author of whose indexed documents a plan would remove more than a run may."""

    model_config = ConfigDict(frozen=True)

    author_id: UUID | None
    removed: int
    indexed: int


def mass_removals(
    plan: FeaturePlan, indexed: dict[UUID, IndexedDocument], max_share: float
) -> list[MassRemoval]:
    """Authors who would lose more than `max_share` of the documents the feature store holds of them.

    A warehouse that lost documents (a damaged file, a wrong database) looks like an author who deleted
    them, so a large share going at once is more likely lost data than a decision.
    """
    held = Counter(document.author_id for document in indexed.values())
    going = Counter(indexed[doc_id].author_id for doc_id in plan.removed)
    return [
        MassRemoval(author_id=author_id, removed=removed, indexed=held[author_id])
        for author_id, removed in going.items()
        if removed > max_share * held[author_id]
    ]


class EmbeddedDocuments(BaseModel):
    """The `embedded_documents` artifact: a run's plan, the chunks it embedded and what they came from."""

    plan: FeaturePlan
    model_id: str
    dimension: int
    chunks: list[EmbeddedChunk] = Field(default_factory=list)
    fingerprints: dict[UUID, Fingerprint] = Field(
        default_factory=dict, description="The fingerprint of each new or changed document, to store with it."
    )


def chunk_statistics(chunks: list[Chunk]) -> dict[str, dict[str, float]]:
    """Chunk counts and length distribution (characters) per category, for step metadata."""
    lengths: dict[str, list[int]] = {}
    for chunk in chunks:
        lengths.setdefault(chunk.category.value, []).append(len(chunk.content))
    stats = {}
    for category, values in lengths.items():
        cuts = quantiles(values, n=20, method="inclusive") if len(values) > 1 else [values[0]] * 19
        stats[category] = {
            "chunks": len(values),
            "min": min(values),
            "p50": cuts[9],
            "p95": cuts[18],
            "max": max(values),
        }
    return stats
