"""A MongoDB that cannot be reached surfaces as WarehouseUnavailableError, saying where and what to do."""

import socket
import tempfile
from collections.abc import Callable, Iterator

import pymongo
import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, NetworkTimeout, OperationFailure

from llm_engineering.domain.documents import ArticleDocument, DataCategory, UserDocument
from llm_engineering.domain.exceptions import WarehouseUnavailableError
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import connect_database
from llm_engineering.infrastructure.warehouse.documents import MongoWarehouse
from llm_engineering.infrastructure.warehouse.outages import reaching_mongo

AUTHOR = UserDocument(first_name="Iris", last_name="Calder")
ARTICLE = ArticleDocument(
    content={"title": "Batch sizes", "body": "Notes"},
    platform="blog",
    author_id=AUTHOR.id,
    author_full_name=AUTHOR.full_name,
    link="https://iris.example.com/notes/batch-sizes",
)


def closed_local_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable() -> Iterator[tuple[pymongo.MongoClient, int]]:
    """A real client of a closed localhost port that gives up server selection after 200 ms."""
    port = closed_local_port()
    client: pymongo.MongoClient = pymongo.MongoClient(
        f"mongodb://twin:s3cret-pa55@127.0.0.1:{port}/?authSource=admin", serverSelectionTimeoutMS=200
    )
    yield client, port
    client.close()


def test_a_warehouse_on_a_closed_port_says_where_and_what_to_do(
    unreachable: tuple[pymongo.MongoClient, int],
) -> None:
    client, port = unreachable
    with pytest.raises(WarehouseUnavailableError) as raised:
        MongoWarehouse(client["twin"])
    message = str(raised.value)
    assert f"MongoDB at 127.0.0.1:{port} did not answer while preparing the warehouse's indexes" in message
    assert "ServerSelectionTimeoutError: " in message and "Connection refused" in message
    assert "`poe local-infrastructure-up`" in message and "unset DATABASE_HOST" in message
    assert "s3cret-pa55" not in message and "Topology Description" not in message
    assert isinstance(raised.value.__cause__, pymongo.errors.ServerSelectionTimeoutError)


@pytest.mark.parametrize(
    "outage",
    [AutoReconnect("connection closed"), NetworkTimeout("timed out"), OperationFailure("shutting down", 91)],
    ids=["AutoReconnect", "NetworkTimeout", "ShutdownInProgress"],
)
def test_outages_become_warehouse_unavailable(
    unreachable: tuple[pymongo.MongoClient, int], outage: pymongo.errors.PyMongoError
) -> None:
    client, port = unreachable
    with pytest.raises(WarehouseUnavailableError, match=rf"127\.0\.0\.1:{port} did not answer while listing"):
        with reaching_mongo(client["twin"], "listing users"):
            raise outage


def test_a_refused_login_says_to_check_the_credentials(unreachable: tuple[pymongo.MongoClient, int]) -> None:
    client, _ = unreachable
    with pytest.raises(WarehouseUnavailableError, match="check the user and password in DATABASE_HOST"):
        with reaching_mongo(client["twin"], "listing users"):
            raise OperationFailure("Authentication failed.", 18)


def test_errors_that_are_not_outages_go_on_as_they_are(unreachable: tuple[pymongo.MongoClient, int]) -> None:
    client, _ = unreachable
    with pytest.raises(DuplicateKeyError):
        with reaching_mongo(client["twin"], "storing a document"):
            raise DuplicateKeyError("E11000 duplicate key", 11000)
    with pytest.raises(OperationFailure, match="unknown operator"):
        with reaching_mongo(client["twin"], "reading articles"):
            raise OperationFailure("unknown operator: $regx", 2)


@pytest.fixture(scope="module")
def stopped_warehouse() -> Iterator[MongoWarehouse]:
    """A warehouse on a mongoeco server, opened as the service opens it, that stored one author and an
    article and then stopped."""
    # Imported here: importing the plugin module before pytest registers it would skip its assert rewriting.
    from tests.support.mongo_backends import mongoeco_python, start_mongoeco_server, stop_mongoeco_server

    python = mongoeco_python()
    if not python.exists():
        pytest.skip("mongoeco server not installed (see tests/support/mongo_backends.py)")
    with (
        tempfile.TemporaryDirectory() as data_dir,
        tempfile.NamedTemporaryFile("w+", suffix=".log") as stderr,
    ):
        process, uri = start_mongoeco_server(python, stderr)
        try:
            settings = Settings(data_dir=data_dir, database_host=uri, database_timeout_ms=200)
            database = connect_database(settings)
            warehouse = MongoWarehouse(database)
            warehouse.upsert_user(AUTHOR)
            warehouse.insert(ARTICLE)
        finally:
            stop_mongoeco_server(process)
        try:
            yield warehouse
        finally:
            database.client.close()


OPERATIONS: dict[str, Callable[[MongoWarehouse], object]] = {
    "list_users": lambda warehouse: warehouse.list_users(),
    "find_user": lambda warehouse: warehouse.find_user("Iris", "Calder"),
    "get_user": lambda warehouse: warehouse.get_user(AUTHOR.id),
    "get_or_create_user": lambda warehouse: warehouse.get_or_create_user("Ada", "Byron"),
    "upsert_user": lambda warehouse: warehouse.upsert_user(AUTHOR),
    "link_exists": lambda warehouse: warehouse.link_exists(ARTICLE.link),
    "insert": lambda warehouse: warehouse.insert(ARTICLE.model_copy(update={"link": "https://x.example/n"})),
    "upsert": lambda warehouse: warehouse.upsert(ARTICLE),
    "iter_documents": lambda warehouse: list(warehouse.iter_documents(DataCategory.ARTICLES)),
    "count": lambda warehouse: warehouse.count(DataCategory.ARTICLES),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_on_a_warehouse_that_went_down_raises_warehouse_unavailable(
    stopped_warehouse: MongoWarehouse, operation: str
) -> None:
    with pytest.raises(WarehouseUnavailableError, match=r"did not answer while .*unset DATABASE_HOST"):
        OPERATIONS[operation](stopped_warehouse)
