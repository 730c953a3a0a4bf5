"""The small interfaces use cases are written against; infrastructure implements them."""

from collections.abc import Iterator
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from llm_engineering.domain.documents import DataCategory, Document, UserDocument


class InsertOutcome(StrEnum):
    STORED = "stored"
    ALREADY_PRESENT = "already_present"


class DocumentStore(Protocol):
    """The warehouse: users and their documents, one document per link."""

    def get_or_create_user(self, first_name: str, last_name: str) -> UserDocument: ...

    def find_user(self, first_name: str, last_name: str) -> UserDocument | None:
        """The user with that name, or None when there is none."""
        ...

    def list_users(self) -> list[UserDocument]: ...

    def upsert_user(self, user: UserDocument) -> None: ...

    def link_exists(self, link: str) -> bool:
        """Whether any document of any category came from `link`."""
        ...

    def insert(self, document: Document) -> InsertOutcome:
        """Store a new document; a document whose link is already stored is left as is."""
        ...

    def upsert(self, document: Document) -> None:
        """Store a document by id, replacing the one with the same id."""
        ...

    def iter_documents(
        self, category: DataCategory, author_id: UUID | None = None
    ) -> Iterator[Document]: ...

    def count(self, category: DataCategory) -> int: ...


class Crawler(Protocol):
    """Turns one link into the documents it holds, raising CrawlError with a reason."""

    def crawl(self, link: str, author: UserDocument) -> list[Document]: ...
