"""Opening the warehouse: pymongo against a server, litemongo embedded on disk (its files checked first)."""

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pymongo
from pymongo.database import Database
from pymongo.errors import PyMongoError

from llm_engineering.application.ports import DocumentStore
from llm_engineering.domain.exceptions import WarehouseDamagedError, WarehouseUnavailableError
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.documents import MongoWarehouse
from llm_engineering.infrastructure.warehouse.outages import mongo_servers, unavailable

if TYPE_CHECKING:
    from llm_engineering.infrastructure.monitoring.feedback_store import MongoFeedbackStore


def connect_database(settings: Settings) -> Database:
    """The configured MongoDB database, or the embedded one; fails fast when unreachable."""
    if settings.uses_embedded_warehouse:
        # Imported here: only the embedded path needs them. The store is built from the
        # path itself, since litemongo.connect() would read '#' or '?' in it as URI syntax.
        import litemongo
        from litemongo import sqlite_store

        settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
        check_collection_files(settings.warehouse_dir.resolve() / settings.database_name)
        store = sqlite_store.ServerStore(settings.warehouse_dir.resolve())
        return litemongo.MongoClient(store, tz_aware=True)[settings.database_name]
    uri = settings.database_host.get_secret_value() if settings.database_host else ""
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
    except PyMongoError as error:  # whatever it is, the warehouse cannot be used
        servers = mongo_servers(client)
        client.close()
        raise unavailable(error, servers, "connecting") from error
    return client[settings.database_name]


# litemongo keeps each collection of a database in one SQLite file, `<warehouse>/<database>/<collection>`,
# next to SQLite's own sidecar files; these are the tables and columns it reads.
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
COLLECTION_TABLES = {"documents": {"_id", "doc"}, "indexes": {"_id", "doc"}, "info": {"key", "value"}}


def check_collection_files(database_dir: Path) -> None:
    """Refuse damaged collection files: litemongo would read a zero-byte one as an empty collection."""
    if not database_dir.is_dir():
        return
    for path in sorted(database_dir.iterdir()):
        if not path.is_file() or path.name.endswith(SQLITE_SIDECARS):
            continue
        if problem := collection_problem(path):
            name = path.name
            raise WarehouseDamagedError(
                f"The warehouse file {path} {problem}; it is refused rather than read as an empty {name} "
                f"collection. Move it, with any {name}-wal and {name}-shm beside it, out of {database_dir}; "
                "then restore the warehouse from an export made with `poe run-export-data-warehouse-to-json` "
                "by running `poe run-import-data-warehouse-from-json`, or go on without it to start the "
                f"{name} collection empty."
            )


def collection_problem(path: Path) -> str | None:
    """What is wrong with a litemongo collection file, or None if it reads as one."""
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    if not header:
        return "is empty (zero bytes)"
    if header != SQLITE_HEADER:
        return "is not a SQLite database"
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        [(verdict, *_)] = connection.execute("PRAGMA quick_check(1)").fetchall()
        if verdict != "ok":
            return f"is a damaged SQLite database ({verdict})"
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not tables & COLLECTION_TABLES.keys():
            return f"is a SQLite database of something else (tables: {', '.join(sorted(tables))})"
        for table in sorted(tables & COLLECTION_TABLES.keys()):
            columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            if not COLLECTION_TABLES[table] <= columns:
                return f"has a {table} table without the columns litemongo reads ({sorted(columns)})"
    except sqlite3.DatabaseError as error:
        return f"cannot be read as a SQLite database ({error})"
    finally:
        connection.close()
    return None


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
