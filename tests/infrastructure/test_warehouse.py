"""The Mongo warehouse on every available backend, its serializers, and its failure when unreachable."""

import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import bson
import pytest
from bson.codec_options import CodecOptions
from hypothesis import given, settings
from hypothesis import strategies as st
from loguru import logger
from pymongo.database import Database

from llm_engineering.application.ports import InsertOutcome
from llm_engineering.domain.documents import (
    ArticleDocument,
    DataCategory,
    Document,
    PostDocument,
    RepositoryDocument,
    UserDocument,
)
from llm_engineering.domain.exceptions import WarehouseUnavailableError
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import connect_database
from llm_engineering.infrastructure.warehouse.documents import (
    MongoWarehouse,
    document_from_mongo,
    document_to_mongo,
    user_from_mongo,
    user_to_mongo,
)

# The backend fixtures (`warehouse` on embedded, mongoeco and MongoDB) come from this plugin.
pytest_plugins = ["tests.support.mongo_backends"]

AUTHOR = UserDocument(first_name="Iris", last_name="Calder")


def article(link: str, author: UserDocument = AUTHOR, **fields: object) -> ArticleDocument:
    return ArticleDocument(
        content={"title": "Batch sizes", "body": f"Notes from {link}"},
        platform="blog",
        author_id=author.id,
        author_full_name=author.full_name,
        link=link,
        **fields,
    )


def post(link: str) -> PostDocument:
    return PostDocument(
        content={"text": "Shipped it."},
        platform="linkedin",
        author_id=AUTHOR.id,
        author_full_name=AUTHOR.full_name,
        link=link,
    )


def repository(link: str, content: dict[str, str]) -> RepositoryDocument:
    return RepositoryDocument(
        content=content,
        platform="github",
        author_id=AUTHOR.id,
        author_full_name=AUTHOR.full_name,
        link=link,
        name="pipelines",
    )


def test_get_or_create_user_is_idempotent(warehouse: MongoWarehouse) -> None:
    first = warehouse.get_or_create_user("Iris", "Calder")
    again = warehouse.get_or_create_user("Iris", "Calder")
    other = warehouse.get_or_create_user("Iris", "Holm")
    assert again == first
    assert other.id != first.id
    assert warehouse.find_user("Iris", "Calder") == first
    assert warehouse.find_user("Nobody", "Here") is None
    assert sorted(warehouse.list_users(), key=lambda user: user.id) == sorted(
        [first, other], key=lambda u: u.id
    )


def test_inserting_the_same_document_twice_stores_it_once(warehouse: MongoWarehouse) -> None:
    document = article("https://iris.dev/batch-sizes")
    assert warehouse.insert(document) is InsertOutcome.STORED
    assert warehouse.insert(document) is InsertOutcome.ALREADY_PRESENT
    assert warehouse.count(DataCategory.ARTICLES) == 1
    assert list(warehouse.iter_documents(DataCategory.ARTICLES)) == [document]


def test_a_link_is_stored_once_even_under_a_new_id(warehouse: MongoWarehouse) -> None:
    original = article("https://iris.dev/batch-sizes")
    rewritten = original.model_copy(update={"id": uuid4(), "content": {"title": "Rewritten"}})
    warehouse.insert(original)
    assert warehouse.insert(rewritten) is InsertOutcome.ALREADY_PRESENT
    assert list(warehouse.iter_documents(DataCategory.ARTICLES)) == [original]


def test_link_exists_looks_in_every_category(warehouse: MongoWarehouse) -> None:
    documents: list[Document] = [
        article("https://iris.dev/a"),
        post("https://linkedin.com/posts/iris-1"),
        repository("https://github.com/iris/pipelines", {"README.md": "# Pipelines"}),
    ]
    assert not any(warehouse.link_exists(document.link) for document in documents)
    for document in documents:
        warehouse.insert(document)
    assert all(warehouse.link_exists(document.link) for document in documents)
    assert not warehouse.link_exists("https://iris.dev/never-written")


def test_upsert_replaces_the_document_with_the_same_id(warehouse: MongoWarehouse) -> None:
    document = article("https://iris.dev/a")
    warehouse.insert(document)
    edited = document.model_copy(update={"content": {"title": "Edited", "body": "New text"}})
    warehouse.upsert(edited)
    new = article("https://iris.dev/b")
    warehouse.upsert(new)
    assert warehouse.count(DataCategory.ARTICLES) == 2
    stored = {document.id: document for document in warehouse.iter_documents(DataCategory.ARTICLES)}
    assert stored == {edited.id: edited, new.id: new}


def test_iter_documents_filters_by_author_and_sorts_by_id(warehouse: MongoWarehouse) -> None:
    other_author = UserDocument(first_name="Tomas", last_name="Reyes")
    iris_documents = [article(f"https://iris.dev/{index}") for index in range(5)]
    tomas_documents = [article(f"https://tomas.dev/{index}", other_author) for index in range(3)]
    for document in iris_documents + tomas_documents:
        warehouse.insert(document)
    by_id = sorted(iris_documents, key=lambda document: str(document.id))
    assert list(warehouse.iter_documents(DataCategory.ARTICLES, author_id=AUTHOR.id)) == by_id
    everything = list(warehouse.iter_documents(DataCategory.ARTICLES))
    assert [str(document.id) for document in everything] == sorted(str(d.id) for d in everything)
    assert len(everything) == 8
    assert list(warehouse.iter_documents(DataCategory.ARTICLES, author_id=uuid4())) == []


def test_count_is_per_category(warehouse: MongoWarehouse) -> None:
    warehouse.insert(article("https://iris.dev/a"))
    warehouse.insert(article("https://iris.dev/b"))
    warehouse.insert(post("https://linkedin.com/posts/iris-1"))
    counts = {
        category: warehouse.count(category) for category in DataCategory if category is not DataCategory.USERS
    }
    assert counts == {DataCategory.ARTICLES: 2, DataCategory.POSTS: 1, DataCategory.REPOSITORIES: 0}


def test_repository_files_with_dots_in_their_paths_round_trip(warehouse: MongoWarehouse) -> None:
    files = {
        "src/app.py": "print('hi')\n",
        "README.md": "# Pipelines\n",
        ".github/workflows/ci.yml": "on: push\n",
        "$schema.json": "{}",
        "docs/v1.2/notes.txt": "",
    }
    document = repository("https://github.com/iris/pipelines", files)
    warehouse.insert(document)
    (stored,) = warehouse.iter_documents(DataCategory.REPOSITORIES)
    assert stored == document
    assert isinstance(stored, RepositoryDocument)
    assert stored.content == files
    assert list(stored.content) == list(files)


def test_datetimes_come_back_timezone_aware_and_equal(warehouse: MongoWarehouse) -> None:
    published = datetime(2024, 3, 1, 14, 30, 15, 123000, tzinfo=timezone(timedelta(hours=2)))
    created = datetime(2024, 3, 2, 8, 0, 0, 456000, tzinfo=UTC)
    document = article("https://iris.dev/a", published_at=published, created_at=created)
    warehouse.insert(document)
    (stored,) = warehouse.iter_documents(DataCategory.ARTICLES)
    for value in (stored.published_at, stored.created_at, stored.updated_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
    assert stored.published_at == published
    assert stored.created_at == created
    user = warehouse.get_or_create_user("Iris", "Calder")
    (listed,) = warehouse.list_users()
    assert listed.created_at == user.created_at
    assert listed.created_at.utcoffset() == timedelta(0)


def test_upsert_user_adds_then_replaces_by_id(warehouse: MongoWarehouse) -> None:
    users = [UserDocument(first_name=name, last_name="Calder") for name in ("Iris", "Ada", "Tove")]
    for user in users:
        warehouse.upsert_user(user)
    assert warehouse.list_users() == sorted(users, key=lambda user: str(user.id))
    renamed = users[0].model_copy(update={"last_name": "Holm"})
    warehouse.upsert_user(renamed)
    assert len(warehouse.list_users()) == 3
    assert warehouse.find_user("Iris", "Holm") == renamed
    assert warehouse.find_user("Iris", "Calder") is None


PAGE_VARIANTS = [
    "https://iris.dev/posts/batch-sizes?utm_source=rss",
    "https://iris.dev/posts/batch-sizes",
    "https://iris.dev/posts/batch-sizes#why-small",
    "https://iris.dev/posts/batch-sizes/",
    "http://Iris.dev:80/posts/batch-sizes",
]


def test_one_page_under_several_links_is_stored_once_under_the_link_first_seen(
    warehouse: MongoWarehouse,
) -> None:
    outcomes = [warehouse.insert(article(link)) for link in PAGE_VARIANTS]
    assert outcomes == [InsertOutcome.STORED] + [InsertOutcome.ALREADY_PRESENT] * (len(PAGE_VARIANTS) - 1)
    (stored,) = warehouse.iter_documents(DataCategory.ARTICLES)
    assert stored.link == PAGE_VARIANTS[0]
    assert all(warehouse.link_exists(link) for link in PAGE_VARIANTS)
    assert (
        warehouse.insert(post("https://iris.dev/posts/batch-sizes/?fbclid=x"))
        is InsertOutcome.ALREADY_PRESENT
    )
    assert not warehouse.link_exists("https://iris.dev/posts/batch-sizes-2")
    assert warehouse.insert(article("https://iris.dev/posts/batch-sizes-2")) is InsertOutcome.STORED


def test_an_alias_identifies_its_document_too(warehouse: MongoWarehouse) -> None:
    by_url = article("https://iris.substack.com/p/batch-sizes", aliases=("substack-export:151.batch-sizes",))
    assert warehouse.insert(by_url) is InsertOutcome.STORED
    assert warehouse.link_exists("substack-export:151.batch-sizes")
    assert warehouse.insert(article("substack-export:151.batch-sizes")) is InsertOutcome.ALREADY_PRESENT
    by_export = article("substack-export:152.small-models")
    assert warehouse.insert(by_export) is InsertOutcome.STORED
    later = article("https://iris.substack.com/p/small-models", aliases=("substack-export:152.small-models",))
    assert warehouse.insert(later) is InsertOutcome.ALREADY_PRESENT
    assert {d.link for d in warehouse.iter_documents(DataCategory.ARTICLES)} == {by_url.link, by_export.link}


def old_document_dict(document: Document) -> dict:
    """A document as warehouses stored it before canonical links and aliases existed."""
    data = document_to_mongo(document)
    for derived in ("canonical_link", "canonical_aliases", "aliases"):
        del data[derived]
    return data


def test_a_warehouse_from_before_canonical_links_and_name_keys_keeps_working(
    warehouse_database: Database,
) -> None:
    oldest = article("https://iris.dev/posts/batch-sizes", created_at=datetime(2023, 1, 1, tzinfo=UTC))
    copy = article(
        "https://iris.dev/posts/batch-sizes/?utm_source=rss", created_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    other = article("https://iris.dev/posts/small-models")
    warehouse_database[DataCategory.ARTICLES].insert_many(
        [old_document_dict(d) for d in (copy, oldest, other)]
    )
    users = warehouse_database[DataCategory.USERS]
    users.create_index([("first_name", 1), ("last_name", 1)], unique=True)  # as earlier versions made it
    users.insert_one({key: value for key, value in user_to_mongo(AUTHOR).items() if key != "name_key"})
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(message.record["message"]), level="WARNING")
    try:
        warehouse = MongoWarehouse(warehouse_database)
    finally:
        logger.remove(sink)

    assert any("1 stored documents repeat" in warning and "import" in warning for warning in warnings)
    assert sorted(warehouse.iter_documents(DataCategory.ARTICLES), key=lambda d: d.created_at)[:2] == [
        oldest,
        copy,
    ]
    assert warehouse.link_exists("http://iris.dev/posts/small-models#top")
    assert (
        warehouse.insert(article("https://iris.dev/posts/batch-sizes?ref=hn"))
        is InsertOutcome.ALREADY_PRESENT
    )
    assert warehouse.find_user("IRIS", "calder") == AUTHOR
    namesake = UserDocument(first_name="Iris", last_name="Calder")
    warehouse.upsert_user(namesake)  # the old unique index on names is gone
    assert {user.id for user in warehouse.list_users()} == {AUTHOR.id, namesake.id}


def test_names_match_ignoring_case_and_spacing_and_keep_the_first_spelling(warehouse: MongoWarehouse) -> None:
    first = warehouse.get_or_create_user("ada", "quill")
    assert warehouse.get_or_create_user("Ada", "Quill") == first
    assert warehouse.find_user("ADA ", "  quill") == first
    assert warehouse.find_user("Ada King", "Quill") is None
    assert [user.full_name for user in warehouse.list_users()] == ["ada quill"]


def test_namesakes_are_kept_apart_by_id_and_the_name_finds_the_first_stored(
    warehouse: MongoWarehouse,
) -> None:
    first = UserDocument(first_name="Ada", last_name="Quill", created_at=datetime(2024, 1, 1, tzinfo=UTC))
    second = UserDocument(first_name="Ada", last_name="Quill", created_at=datetime(2025, 1, 1, tzinfo=UTC))
    warehouse.upsert_user(second)
    warehouse.upsert_user(first)
    assert warehouse.get_user(second.id) == second
    assert warehouse.get_user(uuid4()) is None
    assert warehouse.find_user("Ada", "Quill") == first
    assert warehouse.get_or_create_user("ada", "QUILL") == first
    assert len(warehouse.list_users()) == 2


# Serializers, without a database: BSON keeps milliseconds, so the generated times do too.
millisecond_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda value: value.replace(microsecond=value.microsecond // 1000 * 1000))
texts = st.text(max_size=40)
BSON_OPTIONS: CodecOptions = CodecOptions(tz_aware=True)


def through_bson(data: dict) -> dict:
    """What a MongoDB server hands back for `data`."""
    return bson.decode(bson.encode(data), codec_options=BSON_OPTIONS)


@settings(max_examples=60, deadline=None)
@given(
    content=st.dictionaries(texts, texts, max_size=6),
    category=st.sampled_from([DataCategory.ARTICLES, DataCategory.POSTS, DataCategory.REPOSITORIES]),
    published_at=st.none() | millisecond_datetimes,
    created_at=millisecond_datetimes,
    aliases=st.lists(texts, max_size=3).map(tuple),
)
def test_document_round_trips_through_its_mongo_dict(
    content: dict[str, str],
    category: DataCategory,
    published_at: datetime | None,
    created_at: datetime,
    aliases: tuple[str, ...],
) -> None:
    fields = {"name": "pipelines"} if category is DataCategory.REPOSITORIES else {}
    model = {
        DataCategory.ARTICLES: ArticleDocument,
        DataCategory.POSTS: PostDocument,
        DataCategory.REPOSITORIES: RepositoryDocument,
    }[category]
    document = model(
        content=content,
        platform="blog",
        author_id=uuid4(),
        author_full_name="Iris Calder",
        link="https://iris.dev/a.b",
        aliases=aliases,
        published_at=published_at,
        created_at=created_at,
        **fields,
    )
    data = document_to_mongo(document)
    assert data["_id"] == str(document.id)
    assert not any("." in key or key.startswith("$") for key in data)
    assert document_from_mongo(category, data) == document
    assert document_from_mongo(category, through_bson(data)) == document


@settings(max_examples=40, deadline=None)
@given(first_name=texts, last_name=texts, created_at=millisecond_datetimes)
def test_user_round_trips_through_its_mongo_dict(
    first_name: str, last_name: str, created_at: datetime
) -> None:
    user = UserDocument(first_name=first_name, last_name=last_name, created_at=created_at)
    data = user_to_mongo(user)
    assert UUID(data["_id"]) == user.id
    assert user_from_mongo(data) == user
    assert user_from_mongo(through_bson(data)) == user


def closed_local_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_server_fails_fast_without_leaking_the_password(tmp_path) -> None:
    uri = f"mongodb://twin:s3cret-pa55@127.0.0.1:{closed_local_port()}/?authSource=admin"
    settings = Settings(data_dir=tmp_path, database_host=uri, database_timeout_ms=300)
    started = time.monotonic()
    with pytest.raises(WarehouseUnavailableError) as raised:
        connect_database(settings)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "poe local-infrastructure-up" in message
    assert "DATABASE_HOST" in message
    assert "127.0.0.1" in message
    assert "s3cret-pa55" not in message
    assert "s3cret-pa55" not in str(raised.value.__cause__)


def embedded_warehouse_with_articles(data_dir, count: int) -> Settings:
    """An embedded warehouse holding `count` articles, closed so that its files are whole on disk."""
    embedded = Settings(data_dir=data_dir, database_host=None)
    database = connect_database(embedded)
    store = MongoWarehouse(database)
    for n in range(count):
        store.insert(article(f"https://iris.example.com/notes/{n}"))
    database.client.close()
    return embedded


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: b"", "is empty (zero bytes)"),
        (lambda data: b"not a database\n" * 100, "is not a SQLite database"),
        (lambda data: data[: len(data) // 2], "cannot be read as a SQLite database"),
    ],
    ids=["zero-bytes", "garbage", "truncated"],
)
def test_a_damaged_collection_file_is_refused_naming_the_file_and_the_fix(tmp_path, damage, problem) -> None:
    embedded = embedded_warehouse_with_articles(tmp_path, 200)
    path = (embedded.warehouse_dir / embedded.database_name / "articles").resolve()
    path.write_bytes(damage(path.read_bytes()))
    damaged = path.read_bytes()

    with pytest.raises(WarehouseUnavailableError) as raised:
        connect_database(embedded)

    message = str(raised.value)
    assert f"{path} {problem}" in message
    assert "poe run-export-data-warehouse-to-json" in message
    assert "poe run-import-data-warehouse-from-json" in message
    assert "to start the articles collection empty" in message
    assert path.read_bytes() == damaged  # refused before anything wrote to it


def test_a_whole_warehouse_opens_while_another_connection_holds_it(tmp_path) -> None:
    embedded = embedded_warehouse_with_articles(tmp_path, 3)
    first = MongoWarehouse(connect_database(embedded))
    first.insert(article("https://iris.example.com/notes/late"))
    assert MongoWarehouse(connect_database(embedded)).count(DataCategory.ARTICLES) == 4
