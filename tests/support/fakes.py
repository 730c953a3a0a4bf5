"""In-memory stand-ins for the application ports."""

from collections.abc import Iterator
from uuid import UUID

from llm_engineering.application.ports import InsertOutcome
from llm_engineering.domain.documents import DataCategory, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError


class InMemoryStore:
    """A `DocumentStore` in dicts, enforcing the same unique-link rule as the warehouse."""

    def __init__(self) -> None:
        self.users: dict[UUID, UserDocument] = {}
        self.documents: dict[UUID, Document] = {}

    def find_user(self, first_name: str, last_name: str) -> UserDocument | None:
        return next(
            (u for u in self.users.values() if (u.first_name, u.last_name) == (first_name, last_name)), None
        )

    def get_or_create_user(self, first_name: str, last_name: str) -> UserDocument:
        user = self.find_user(first_name, last_name) or UserDocument(
            first_name=first_name, last_name=last_name
        )
        self.users[user.id] = user
        return user

    def list_users(self) -> list[UserDocument]:
        return sorted(self.users.values(), key=lambda u: str(u.id))

    def upsert_user(self, user: UserDocument) -> None:
        self.users[user.id] = user

    def link_exists(self, link: str) -> bool:
        return any(d.link == link for d in self.documents.values())

    def insert(self, document: Document) -> InsertOutcome:
        if self.link_exists(document.link):
            return InsertOutcome.ALREADY_PRESENT
        self.documents[document.id] = document
        return InsertOutcome.STORED

    def upsert(self, document: Document) -> None:
        self.documents[document.id] = document

    def iter_documents(self, category: DataCategory, author_id: UUID | None = None) -> Iterator[Document]:
        for document in sorted(self.documents.values(), key=lambda d: str(d.id)):
            if document.category is category and author_id in (None, document.author_id):
                yield document

    def count(self, category: DataCategory) -> int:
        return sum(d.category is category for d in self.documents.values())


class ScriptedCrawler:
    """A `Crawler` returning prepared documents per link, or raising a prepared error."""

    def __init__(self, results: dict[str, list[Document] | Exception]) -> None:
        self.results = results
        self.calls: list[str] = []

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        self.calls.append(link)
        result = self.results.get(link, CrawlError(f"nothing scripted for {link}"))
        if isinstance(result, Exception):
            raise result
        return result
