"""The warehouse over the MongoDB API: pymongo against a server, litemongo embedded on disk."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

import pymongo
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from llm_engineering.application.ports import DocumentStore, InsertOutcome
from llm_engineering.domain.documents import (
    DOCUMENT_TYPES,
    DataCategory,
    Document,
    UserDocument,
)
from llm_engineering.domain.exceptions import WarehouseUnavailableError
from llm_engineering.infrastructure.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.infrastructure.monitoring.feedback_store import MongoFeedbackStore


def document_to_mongo(document: Document) -> dict[str, Any]:
    """A Mongo dict; `content` becomes a list of name/text pairs since paths hold dots."""
    data = document.model_dump(exclude={"id", "content"})
    data["author_id"] = str(document.author_id)
    data["_id"] = str(document.id)
    data["content"] = [{"name": name, "text": text} for name, text in document.content.items()]
    return data


def document_from_mongo(category: DataCategory, data: dict[str, Any]) -> Document:
    """Inverse of `document_to_mongo`."""
    fields = {key: value for key, value in data.items() if key not in {"_id", "content"}}
    content = {pair["name"]: pair["text"] for pair in data["content"]}
    return DOCUMENT_TYPES[category](id=UUID(data["_id"]), content=content, **fields)


def user_to_mongo(user: UserDocument) -> dict[str, Any]:
    data = user.model_dump(exclude={"id"})
    data["_id"] = str(user.id)
    return data


def user_from_mongo(data: dict[str, Any]) -> UserDocument:
    return UserDocument(id=UUID(data["_id"]), **{k: v for k, v in data.items() if k != "_id"})


class MongoWarehouse:
    """A `DocumentStore` on any database object that speaks the pymongo API."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._db[DataCategory.USERS].create_index(
            [("first_name", pymongo.ASCENDING), ("last_name", pymongo.ASCENDING)], unique=True
        )
        for category in DOCUMENT_TYPES:
            self._db[category].create_index("link", unique=True)
            self._db[category].create_index("author_id")

    def find_user(self, first_name: str, last_name: str) -> UserDocument | None:
        found = self._db[DataCategory.USERS].find_one({"first_name": first_name, "last_name": last_name})
        return user_from_mongo(found) if found else None

    def get_or_create_user(self, first_name: str, last_name: str) -> UserDocument:
        existing = self.find_user(first_name, last_name)
        if existing:
            return existing
        user = UserDocument(first_name=first_name, last_name=last_name)
        try:
            self._db[DataCategory.USERS].insert_one(user_to_mongo(user))
        except DuplicateKeyError:  # created by another process in between
            return self.get_or_create_user(first_name, last_name)
        return user

    def list_users(self) -> list[UserDocument]:
        return [user_from_mongo(data) for data in self._db[DataCategory.USERS].find().sort("_id")]

    def upsert_user(self, user: UserDocument) -> None:
        self._db[DataCategory.USERS].replace_one({"_id": str(user.id)}, user_to_mongo(user), upsert=True)

    def link_exists(self, link: str) -> bool:
        return any(self._db[category].count_documents({"link": link}, limit=1) for category in DOCUMENT_TYPES)

    def insert(self, document: Document) -> InsertOutcome:
        # The unique index guards one collection; a link may not reappear in another either.
        if self.link_exists(document.link):
            return InsertOutcome.ALREADY_PRESENT
        try:
            self._db[document.category].insert_one(document_to_mongo(document))
        except DuplicateKeyError:
            return InsertOutcome.ALREADY_PRESENT
        return InsertOutcome.STORED

    def upsert(self, document: Document) -> None:
        data = document_to_mongo(document)
        self._db[document.category].replace_one({"_id": data["_id"]}, data, upsert=True)

    def iter_documents(self, category: DataCategory, author_id: UUID | None = None) -> Iterator[Document]:
        query = {} if author_id is None else {"author_id": str(author_id)}
        for data in self._db[category].find(query).sort("_id"):
            yield document_from_mongo(category, data)

    def count(self, category: DataCategory) -> int:
        return self._db[category].count_documents({})


def connect_database(settings: Settings) -> Database:
    """The configured MongoDB database, or the embedded one; fails fast when unreachable."""
    if settings.uses_embedded_warehouse:
        # Imported here: only the embedded path needs them. The store is built from the
        # path itself, since litemongo.connect() would read '#' or '?' in it as URI syntax.
        import litemongo
        from litemongo import sqlite_store

        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        store = sqlite_store.ServerStore(settings.warehouse_dir.resolve())
        return litemongo.MongoClient(store, tz_aware=True)[settings.database_name]
    uri = settings.database_host.get_secret_value() if settings.database_host else ""
    host = uri.rsplit("@", 1)[-1]  # never print credentials
    try:
        client = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=settings.database_timeout_ms, tz_aware=True
        )
    except (PyMongoError, ValueError) as error:
        raise WarehouseUnavailableError(
            f"DATABASE_HOST is not a usable MongoDB URI ({type(error).__name__}); fix it, "
            "or unset DATABASE_HOST to use the embedded warehouse."
        ) from error
    try:
        client.admin.command("ping")
    except PyMongoError as error:
        client.close()
        raise WarehouseUnavailableError(
            f"MongoDB at {host} did not answer ({type(error).__name__}). Start it with "
            "`poe local-infrastructure-up`, fix DATABASE_HOST, or unset DATABASE_HOST to use "
            "the embedded warehouse."
        ) from error
    return client[settings.database_name]


class WarehouseStores(NamedTuple):
    """The stores kept in one warehouse database: documents, and traces with their feedback."""

    documents: DocumentStore
    feedback: "MongoFeedbackStore"


def open_warehouse(settings: Settings) -> WarehouseStores:
    """The warehouse's stores over one connection, usable from any thread.

    The embedded warehouse's SQLite connections belong to the thread that opened them, so there the
    database and both stores live on one thread of their own and every call runs there. A MongoDB
    server's client is shared by all threads as it is.
    """
    from llm_engineering.infrastructure.monitoring.feedback_store import MongoFeedbackStore

    if not settings.uses_embedded_warehouse:
        database = connect_database(settings)
        return WarehouseStores(MongoWarehouse(database), MongoFeedbackStore(database))
    from llm_engineering.infrastructure.thread_confined import ThreadConfiner

    confiner = ThreadConfiner("warehouse")
    database = confiner.run(lambda: connect_database(settings))
    return WarehouseStores(
        confiner.build(lambda: MongoWarehouse(database)), confiner.build(lambda: MongoFeedbackStore(database))
    )
