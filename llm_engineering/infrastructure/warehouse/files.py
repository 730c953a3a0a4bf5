"""Export the warehouse to JSON files and import it back, or import the LLM Engineer's Handbook's export.

Our export is one JSON list per collection (`users.json`, `articles.json`, ...) of the
models' JSON form. Import checks every file before it writes anything, so a malformed
export never leaves the warehouse half-imported. Import also migrates: documents that are
one page under several links (one canonical link) become one, the oldest, with the other
links as its aliases; authors are matched by name ignoring case and spacing.
"""

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from loguru import logger
from pydantic import ValidationError

from llm_engineering.application.ports import DocumentStore
from llm_engineering.domain.documents import DOCUMENT_TYPES, DataCategory, Document, UserDocument
from llm_engineering.domain.exceptions import ImportFormatError
from llm_engineering.domain.handbook import HANDBOOK_FILE_NAMES, document_from_handbook, user_from_handbook

FILE_NAMES: dict[DataCategory, str] = {category: f"{category.value}.json" for category in DataCategory}

Item = TypeVar("Item")


@dataclass
class ImportCounts:
    """Items of one collection written, left as stored, or merged into another document as its alias."""

    imported: int = 0
    skipped: int = 0
    merged: int = 0


@dataclass(frozen=True)
class WarehouseExport:
    """The validated content of an export folder, ready to store."""

    users: list[UserDocument]
    documents: dict[DataCategory, list[Document]]
    # Our exports carry timestamps, so an item replaces the stored one with its id. The
    # handbook's carry none: re-importing them must not rewrite what a first import stored.
    replace_stored: bool


def export_warehouse(store: DocumentStore, data_dir: Path) -> dict[DataCategory, int]:
    """Write every collection to `data_dir` as JSON; returns the number of items per collection."""
    data_dir.mkdir(parents=True, exist_ok=True)
    collections: dict[DataCategory, list[Any]] = {DataCategory.USERS: store.list_users()}
    collections |= {category: list(store.iter_documents(category)) for category in DOCUMENT_TYPES}
    for category, items in collections.items():
        data = [item.model_dump(mode="json") for item in items]
        path = data_dir / FILE_NAMES[category]
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        logger.info("Exported {} {} to {}", len(data), category.value, path)
    return {category: len(items) for category, items in collections.items()}


def import_warehouse(store: DocumentStore, data_dir: Path) -> dict[DataCategory, ImportCounts]:
    """Import an export folder (ours or the handbook's) by id; importing it twice changes nothing."""
    known_authors = {user.id: user.full_name for user in store.list_users()}
    export = read_export(data_dir, known_authors)
    return store_export(store, export)


def read_export(data_dir: Path, known_authors: Mapping[UUID, str] | None = None) -> WarehouseExport:
    """Read and validate an export folder, telling its format by its file names."""
    if not data_dir.is_dir():
        raise ImportFormatError(f"{data_dir} is not a folder; pass the folder an export wrote.")
    ours = [name for name in FILE_NAMES.values() if (data_dir / name).is_file()]
    handbook = [name for name in HANDBOOK_FILE_NAMES.values() if (data_dir / name).is_file()]
    if ours and handbook:
        raise ImportFormatError(
            f"{data_dir} mixes our export ({', '.join(ours)}) with the handbook's ({', '.join(handbook)}); "
            "move one of them to its own folder."
        )
    if handbook:
        return read_handbook_export(data_dir, known_authors or {})
    if ours:
        return read_our_export(data_dir)
    raise ImportFormatError(
        f"{data_dir} holds no export: expected {', '.join(FILE_NAMES.values())} "
        f"or the handbook's {', '.join(HANDBOOK_FILE_NAMES.values())}."
    )


def read_our_export(data_dir: Path) -> WarehouseExport:
    """Validate the files written by `export_warehouse`."""
    users = read_items(data_dir / FILE_NAMES[DataCategory.USERS], UserDocument.model_validate)
    documents: dict[DataCategory, list[Document]] = {
        category: read_items(data_dir / FILE_NAMES[category], model.model_validate)
        for category, model in DOCUMENT_TYPES.items()
    }
    return WarehouseExport(users=users, documents=documents, replace_stored=True)


def read_handbook_export(data_dir: Path, known_authors: Mapping[UUID, str]) -> WarehouseExport:
    """Validate and convert the handbook's files; authors' names may come from its users."""
    users = read_items(data_dir / HANDBOOK_FILE_NAMES[DataCategory.USERS], user_from_handbook)
    author_names = {**known_authors, **{user.id: user.full_name for user in users}}
    documents = {
        category: read_items(
            data_dir / HANDBOOK_FILE_NAMES[category],
            partial(document_from_handbook, category, author_names=author_names),
        )
        for category in DOCUMENT_TYPES
    }
    return WarehouseExport(users=users, documents=documents, replace_stored=False)


def read_items(path: Path, parse: Callable[[Mapping[str, Any]], Item]) -> list[Item]:
    """Parse every item of a JSON list file; a missing file holds no items."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ImportFormatError(
            f"{path} is not valid UTF-8 JSON ({error}); fix it or export it again."
        ) from error
    if not isinstance(data, list):
        raise ImportFormatError(f"{path} must hold a JSON list of objects, not a {type(data).__name__}.")
    items = []
    for index, item in enumerate(data):
        try:
            if not isinstance(item, Mapping):
                raise ValueError(f"expected a JSON object, not {type(item).__name__}")
            items.append(parse(item))
        except ValueError as error:  # pydantic's ValidationError is a ValueError too
            raise ImportFormatError(
                f"{path}, item {index}: {describe(error)}. Fix or remove that item and import again; "
                "nothing was imported."
            ) from error
    logger.info("Read {} items from {}", len(items), path)
    return items


def describe(error: ValueError) -> str:
    """A validation error in one line per field, e.g. "link: Field required"."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'item'}: {detail['msg']}"
            for detail in error.errors()
        )
    return str(error)


def store_export(store: DocumentStore, export: WarehouseExport) -> dict[DataCategory, ImportCounts]:
    """Write a validated export: users first, then documents re-attributed to stored namesakes."""
    counts, renamed_authors = store_users(store, export)
    for category, documents in export.documents.items():
        attributed = [
            document.model_copy(update={"author_id": renamed_authors[document.author_id]})
            if document.author_id in renamed_authors
            else document
            for document in documents
        ]
        counts[category] = store_documents(store, attributed, export.replace_stored)
    return counts


def store_users(
    store: DocumentStore, export: WarehouseExport
) -> tuple[dict[DataCategory, ImportCounts], dict[UUID, UUID]]:
    """Upsert users by id; a new id whose name (ignoring case and spacing) is stored takes that author's id.

    Namesakes the export itself holds are different people kept apart by id, so none of them is merged.
    Returns the counts and the map from each merged imported id to the stored one.
    """
    stored = {user.id: user for user in store.list_users()}
    ids_by_name: dict[str, UUID] = {}
    for user in sorted(stored.values(), key=lambda user: (user.created_at, str(user.id))):
        ids_by_name.setdefault(user.name_key, user.id)  # of stored namesakes, the first is the name's
    names_in_export = Counter(user.name_key for user in export.users)
    renamed: dict[UUID, UUID] = {}
    counts = ImportCounts()
    for user in export.users:
        namesake = ids_by_name.get(user.name_key)
        current = stored.get(user.id)
        if namesake not in (None, user.id) and current is None and names_in_export[user.name_key] == 1:
            renamed[user.id] = namesake
            counts.skipped += 1
        elif current is not None and (current == user or not export.replace_stored):
            counts.skipped += 1
        else:
            store.upsert_user(user)
            if current is not None and ids_by_name.get(current.name_key) == current.id:
                del ids_by_name[current.name_key]
            stored[user.id] = user
            ids_by_name.setdefault(user.name_key, user.id)
            counts.imported += 1
    return {DataCategory.USERS: counts}, renamed


def store_documents(store: DocumentStore, documents: list[Document], replace_stored: bool) -> ImportCounts:
    """Upsert documents of one category by id, one per canonical link.

    A document whose canonical link another one holds (stored, or imported before it: the export's
    oldest first) is merged into that one: its links become the other's aliases, the rest of it is
    dropped. A document replaced by id keeps the links it had as aliases, so no link is ever lost.
    """
    counts = ImportCounts()
    if not documents:
        return counts
    stored = {document.id: document for document in store.iter_documents(documents[0].category)}
    owners: dict[str, UUID] = {}  # canonical link -> the id of the document that holds it
    for document in sorted(stored.values(), key=age):
        claim(owners, document)
    for exported in sorted(documents, key=age):
        current = stored.get(exported.id)
        document = exported if current is None else exported.with_aliases([current.link, *current.aliases])
        held = {owners[key] for key in identities(document) if key in owners} - {document.id}
        owner = min(held, key=lambda owner_id: age(stored[owner_id])) if held else None
        if owner is not None:
            merged = stored[owner].with_aliases([document.link, *document.aliases])
            if merged == stored[owner]:
                counts.skipped += 1
                continue
            logger.info("Merged {} into {}: the same page", document.link, merged.link)
            counts.merged += 1
            document = merged
        elif current is None and any(store.link_exists(key) for key in identities(document)):
            logger.info("Skipped {}: the page is already stored as another kind of document", document.link)
            counts.skipped += 1
            continue
        elif current is not None and (current == document or not replace_stored):
            counts.skipped += 1
            continue
        else:
            counts.imported += 1
        store.upsert(document)
        stored[document.id] = document
        claim(owners, document)
    if counts.merged:
        logger.info(
            "Merged {} {} into documents of the same page; their links are kept as aliases.",
            counts.merged,
            documents[0].category.value,
        )
    return counts


def claim(owners: dict[str, UUID], document: Document) -> None:
    """Record `document` as the holder of those of its canonical links no document holds yet."""
    owners.update(dict.fromkeys(identities(document) - owners.keys(), document.id))


def identities(document: Document) -> set[str]:
    """The canonical links a document holds: its link's and its aliases'."""
    return {document.canonical_link, *document.canonical_aliases}


def age(document: Document) -> tuple[datetime, str]:
    """Oldest first: of several copies of one page, the first stored is kept (its id may be in use)."""
    return document.created_at, str(document.id)
