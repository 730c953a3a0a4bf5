"""The warehouse's documents and users over the MongoDB API, and their Mongo form."""

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pymongo
from loguru import logger
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from llm_engineering.application.ports import InsertOutcome
from llm_engineering.domain.documents import (
    DOCUMENT_TYPES,
    DataCategory,
    Document,
    UserDocument,
    name_key,
)
from llm_engineering.domain.links import canonical_link
from llm_engineering.infrastructure.warehouse.outages import reaching_mongo

# Stored for the indexes and computed from the other fields on every write, so never read back.
DERIVED_DOCUMENT_FIELDS = ("canonical_link", "canonical_aliases")
DERIVED_USER_FIELDS = ("name_key",)


def document_to_mongo(document: Document) -> dict[str, Any]:
    """A Mongo dict; `content` becomes a list of name/text pairs since paths hold dots."""
    data = document.model_dump(exclude={"id", "content"})
    data["author_id"] = str(document.author_id)
    data["_id"] = str(document.id)
    data["content"] = [{"name": name, "text": text} for name, text in document.content.items()]
    data["aliases"] = list(document.aliases)
    data["canonical_link"] = document.canonical_link
    data["canonical_aliases"] = list(document.canonical_aliases)
    return data


def document_from_mongo(category: DataCategory, data: dict[str, Any]) -> Document:
    """Inverse of `document_to_mongo`; a document stored before aliases existed has none."""
    skipped = {"_id", "content", *DERIVED_DOCUMENT_FIELDS}
    fields = {key: value for key, value in data.items() if key not in skipped}
    content = {pair["name"]: pair["text"] for pair in data["content"]}
    return DOCUMENT_TYPES[category](id=UUID(data["_id"]), content=content, **fields)


def user_to_mongo(user: UserDocument) -> dict[str, Any]:
    data = user.model_dump(exclude={"id"})
    data["_id"] = str(user.id)
    data["name_key"] = user.name_key
    return data


def user_from_mongo(data: dict[str, Any]) -> UserDocument:
    skipped = {"_id", *DERIVED_USER_FIELDS}
    return UserDocument(id=UUID(data["_id"]), **{k: v for k, v in data.items() if k not in skipped})


UNIQUE_NAME_INDEX = "first_name_1_last_name_1"  # made unique by earlier versions
OLDEST_FIRST = [("created_at", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]


class MongoWarehouse:
    """A `DocumentStore` on any database object that speaks the pymongo API; a server that cannot be
    reached raises WarehouseUnavailableError (see `reaching_mongo`)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        with reaching_mongo(database, "preparing the warehouse's indexes"):
            self._create_indexes()
            self._add_identities()

    def _create_indexes(self) -> None:
        users = self._db[DataCategory.USERS]
        # Two people may share a name (kept apart by id), so names are matched by `name_key`, not unique.
        if UNIQUE_NAME_INDEX in users.index_information():
            users.drop_index(UNIQUE_NAME_INDEX)
        users.create_index("name_key")
        for category in DOCUMENT_TYPES:
            self._db[category].create_index("link", unique=True)
            # Sparse: a duplicate stored before canonical links existed holds none (see `_add_identities`).
            self._db[category].create_index("canonical_link", unique=True, sparse=True)
            self._db[category].create_index("canonical_aliases")
            self._db[category].create_index("author_id")

    def _add_identities(self) -> None:
        """Give users and documents stored before name keys and canonical links existed theirs.

        Of documents that share a canonical link, only the first stored gets it; the others stay readable
        but count as that one. Importing an export of the warehouse merges them (see warehouse_files).
        """
        users = self._db[DataCategory.USERS]
        for data in list(users.find({"name_key": {"$exists": False}})):
            key = user_from_mongo(data).name_key
            users.update_one({"_id": data["_id"]}, {"$set": {"name_key": key}})
        duplicates = 0
        for category in DOCUMENT_TYPES:
            collection = self._db[category]
            unkeyed = collection.find({"canonical_link": {"$exists": False}}).sort(OLDEST_FIRST)
            for data in list(unkeyed):
                derived = document_to_mongo(document_from_mongo(category, data))
                if self._identity_stored(derived["canonical_link"]):
                    duplicates += 1
                    continue
                fields = {name: derived[name] for name in DERIVED_DOCUMENT_FIELDS}
                try:
                    collection.update_one({"_id": data["_id"]}, {"$set": fields})
                except DuplicateKeyError:  # given to another copy by another process in between
                    duplicates += 1
        if duplicates:
            logger.warning(
                "{} stored documents repeat another's canonical link (the same page under another link). "
                "To merge them, export the warehouse and import it into an empty one; their links are kept.",
                duplicates,
            )

    def find_user(self, first_name: str, last_name: str) -> UserDocument | None:
        query = {"name_key": name_key(f"{first_name} {last_name}")}
        with reaching_mongo(self._db, "looking up an author by name"):
            found = list(self._db[DataCategory.USERS].find(query).sort(OLDEST_FIRST).limit(1))
        return next((user_from_mongo(data) for data in found), None)

    def get_user(self, user_id: UUID) -> UserDocument | None:
        with reaching_mongo(self._db, f"reading user {user_id}"):
            found = self._db[DataCategory.USERS].find_one({"_id": str(user_id)})
        return user_from_mongo(found) if found else None

    def get_or_create_user(self, first_name: str, last_name: str) -> UserDocument:
        existing = self.find_user(first_name, last_name)
        if existing:
            return existing
        user = UserDocument(first_name=first_name, last_name=last_name)
        users = self._db[DataCategory.USERS]
        with reaching_mongo(self._db, "storing a new author"):
            users.insert_one(user_to_mongo(user))
            # Names are not unique (namesakes are kept apart by id), so a race between two processes
            # creating one author is settled here: the first stored is the author, a later copy goes.
            first = self.find_user(first_name, last_name) or user
            if first.id != user.id:
                users.delete_one({"_id": str(user.id)})
        return first

    def list_users(self) -> list[UserDocument]:
        with reaching_mongo(self._db, "listing users"):
            found = list(self._db[DataCategory.USERS].find().sort("_id"))
        return [user_from_mongo(data) for data in found]

    def upsert_user(self, user: UserDocument) -> None:
        with reaching_mongo(self._db, f"storing user {user.id}"):
            self._db[DataCategory.USERS].replace_one({"_id": str(user.id)}, user_to_mongo(user), upsert=True)

    def link_exists(self, link: str) -> bool:
        return self._identity_stored(canonical_link(link))

    def _identity_stored(self, identity: str) -> bool:
        """Whether a document of any category has that canonical link, as its link's or an alias's."""
        query = {"$or": [{"canonical_link": identity}, {"canonical_aliases": identity}]}
        with reaching_mongo(self._db, f"looking up {identity}"):
            return any(self._db[category].count_documents(query, limit=1) for category in DOCUMENT_TYPES)

    def insert(self, document: Document) -> InsertOutcome:
        # The unique index guards canonical links in one collection; aliases and the others are checked here.
        identities = (document.canonical_link, *document.canonical_aliases)
        if any(self._identity_stored(identity) for identity in identities):
            return InsertOutcome.ALREADY_PRESENT
        try:
            with reaching_mongo(self._db, f"storing {document.link}"):
                self._db[document.category].insert_one(document_to_mongo(document))
        except DuplicateKeyError:
            return InsertOutcome.ALREADY_PRESENT
        return InsertOutcome.STORED

    def upsert(self, document: Document) -> None:
        data = document_to_mongo(document)
        with reaching_mongo(self._db, f"storing {document.link}"):
            self._db[document.category].replace_one({"_id": data["_id"]}, data, upsert=True)

    def iter_documents(self, category: DataCategory, author_id: UUID | None = None) -> Iterator[Document]:
        query = {} if author_id is None else {"author_id": str(author_id)}
        # Around the loop: the cursor fetches its later batches while it is read.
        with reaching_mongo(self._db, f"reading {category.value}"):
            for data in self._db[category].find(query).sort("_id"):
                yield document_from_mongo(category, data)

    def count(self, category: DataCategory) -> int:
        with reaching_mongo(self._db, f"counting {category.value}"):
            return self._db[category].count_documents({})
