"""What the feature pipeline makes of raw documents: cleaned text, chunks, and embedded chunks."""

from statistics import quantiles
from typing import Any
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


class FeaturePlan(BaseModel):
    """Which documents a feature run indexes, and which it removes, compared to the feature store."""

    model_config = ConfigDict(frozen=True)

    new: list[UUID] = Field(default_factory=list)
    changed: list[UUID] = Field(default_factory=list)
    unchanged: list[UUID] = Field(default_factory=list)
    removed: dict[UUID, DataCategory] = Field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
        }


def plan_update(
    documents: list[CleanedDocument], indexed: dict[UUID, tuple[DataCategory, str]]
) -> FeaturePlan:
    """Compare documents with the (category, content hash) the feature store holds for each id."""
    new, changed, unchanged = [], [], []
    for document in documents:
        if document.id not in indexed:
            new.append(document.id)
        elif indexed[document.id][1] != document.content_hash:
            changed.append(document.id)
        else:
            unchanged.append(document.id)
    present = {document.id for document in documents}
    removed = {doc_id: category for doc_id, (category, _) in indexed.items() if doc_id not in present}
    return FeaturePlan(new=new, changed=changed, unchanged=unchanged, removed=removed)


class EmbeddedDocuments(BaseModel):
    """The `embedded_documents` artifact: the plan of a run and the chunks it embedded."""

    plan: FeaturePlan
    model_id: str
    dimension: int
    chunks: list[EmbeddedChunk] = Field(default_factory=list)


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
