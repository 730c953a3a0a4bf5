"""What the feature pipeline makes of raw documents: cleaned text, chunks, and embedded chunks."""

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
    sections: list[Section]
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
    chunk_index: int
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
        data["document_id"] = str(self.document_id)
        data["author_id"] = str(self.author_id)
        return data


class EmbeddedChunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    embedding: list[float]
