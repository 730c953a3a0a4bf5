"""Export and import of the warehouse on the embedded backend: round trip, idempotence, handbook exports."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from llm_engineering.domain.documents import (
    ArticleDocument,
    DataCategory,
    PostDocument,
    RepositoryDocument,
    UserDocument,
)
from llm_engineering.domain.exceptions import ImportFormatError
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import connect_database
from llm_engineering.infrastructure.warehouse.documents import MongoWarehouse
from llm_engineering.infrastructure.warehouse.files import (
    FILE_NAMES,
    ImportCounts,
    export_warehouse,
    import_warehouse,
)

OpenWarehouse = Callable[[str], MongoWarehouse]
IRIS = UserDocument(
    first_name="Iris", last_name="Calder", created_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
)
TOMAS = UserDocument(first_name="Tomas", last_name="Reyes")


@pytest.fixture
def open_warehouse(tmp_path: Path) -> Iterator[OpenWarehouse]:
    """Opens embedded warehouses by name under tmp_path, closing them after the test."""
    databases = []

    def open_named(name: str) -> MongoWarehouse:
        database = connect_database(Settings(data_dir=tmp_path / name, database_host=None))
        databases.append(database)
        return MongoWarehouse(database)

    yield open_named
    for database in databases:
        database.client.close()


def fill(store: MongoWarehouse) -> None:
    """Two authors with an article, a post and a repository between them."""
    for user in (IRIS, TOMAS):
        store.upsert_user(user)
    common = {"author_id": IRIS.id, "author_full_name": IRIS.full_name}
    store.insert(
        ArticleDocument(
            content={"title": "Batch sizes", "subtitle": "and why", "body": "Ünïcode body ✓"},
            platform="blog",
            link="https://iris.dev/batch-sizes",
            published_at=datetime(2023, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
            **common,
        )
    )
    store.insert(
        PostDocument(content={"text": "Shipped."}, platform="linkedin", link="https://li.example/1", **common)
    )
    store.insert(
        RepositoryDocument(
            content={"src/app.py": "x = 1\n", ".github/ci.yml": "on: push\n"},
            platform="github",
            author_id=TOMAS.id,
            author_full_name=TOMAS.full_name,
            link="https://github.com/tomas/tools",
            name="tools",
        )
    )


def read_files(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.json"))}


def totals(counts: dict[DataCategory, ImportCounts]) -> tuple[int, int]:
    return sum(c.imported for c in counts.values()), sum(c.skipped for c in counts.values())


def test_export_then_import_into_an_empty_warehouse_gives_identical_files(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    source = open_warehouse("source")
    fill(source)
    assert export_warehouse(source, tmp_path / "first") == {
        DataCategory.USERS: 2,
        DataCategory.ARTICLES: 1,
        DataCategory.POSTS: 1,
        DataCategory.REPOSITORIES: 1,
    }
    target = open_warehouse("target")
    counts = import_warehouse(target, tmp_path / "first")
    assert totals(counts) == (5, 0)
    export_warehouse(target, tmp_path / "second")
    first = read_files(tmp_path / "first")
    assert sorted(first) == sorted(FILE_NAMES.values())
    assert read_files(tmp_path / "second") == first
    (repository,) = json.loads(first["repositories.json"])
    assert repository["content"] == {"src/app.py": "x = 1\n", ".github/ci.yml": "on: push\n"}
    assert list(target.iter_documents(DataCategory.ARTICLES)) == list(
        source.iter_documents(DataCategory.ARTICLES)
    )


def test_importing_twice_changes_nothing(open_warehouse: OpenWarehouse, tmp_path: Path) -> None:
    source = open_warehouse("source")
    fill(source)
    export_warehouse(source, tmp_path / "export")
    target = open_warehouse("target")
    import_warehouse(target, tmp_path / "export")
    export_warehouse(target, tmp_path / "once")
    assert totals(import_warehouse(target, tmp_path / "export")) == (0, 5)
    export_warehouse(target, tmp_path / "twice")
    assert read_files(tmp_path / "twice") == read_files(tmp_path / "once")


def test_import_replaces_by_id_but_never_stores_a_link_twice(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    source = open_warehouse("source")
    fill(source)
    export_warehouse(source, tmp_path / "export")
    target = open_warehouse("target")
    (article,) = source.iter_documents(DataCategory.ARTICLES)
    (post,) = source.iter_documents(DataCategory.POSTS)
    target.insert(article.model_copy(update={"content": {"title": "Old draft"}}))
    same_link_other_id = post.model_copy(update={"id": uuid4(), "content": {"text": "Kept"}})
    target.insert(same_link_other_id)
    counts = import_warehouse(target, tmp_path / "export")
    assert counts[DataCategory.ARTICLES] == ImportCounts(imported=1, skipped=0)
    assert counts[DataCategory.POSTS] == ImportCounts(imported=0, skipped=1)
    assert list(target.iter_documents(DataCategory.ARTICLES)) == [article]
    assert list(target.iter_documents(DataCategory.POSTS)) == [same_link_other_id]


def test_a_stored_namesake_keeps_its_id_and_receives_the_documents(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    source = open_warehouse("source")
    fill(source)
    export_warehouse(source, tmp_path / "export")
    target = open_warehouse("target")
    namesake = target.get_or_create_user("Iris", "Calder")
    counts = import_warehouse(target, tmp_path / "export")
    assert counts[DataCategory.USERS] == ImportCounts(imported=1, skipped=1)
    assert {user.full_name: user.id for user in target.list_users()}["Iris Calder"] == namesake.id
    assert [d.author_id for d in target.iter_documents(DataCategory.ARTICLES)] == [namesake.id]


def write_json(folder: Path, name: str, data: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


HANDBOOK_USER_ID = "0b7e2f4a-91c3-4d55-8a16-2c4f7e9d3a01"
HANDBOOK_ARTICLE_ID = "6d2a9c13-4e8b-4f07-b3a2-95e1c0d47b22"
HANDBOOK_POST_ID = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def write_handbook_export(folder: Path) -> None:
    """A small export in the handbook's format, with its quirks: nulls, numbers, a post without link."""
    write_json(
        folder,
        "UserDocument.json",
        [{"_id": HANDBOOK_USER_ID, "first_name": "Paula", "last_name": "Ionescu"}],
    )
    author = {"author_id": HANDBOOK_USER_ID, "author_full_name": "Paula Ionescu"}
    article_content = {
        "Title": "Data pipelines",
        "Subtitle": None,
        "Content": "Crawl, clean, load.",
        "language": "en",
    }
    write_json(
        folder,
        "ArticleDocument.json",
        [
            {
                "_id": HANDBOOK_ARTICLE_ID,
                "content": article_content,
                "platform": "medium",
                "link": "https://m.example/p",
                **author,
            },
            {
                "_id": str(uuid4()),
                "content": {"Content": "dup"},
                "platform": "medium",
                "link": "https://iris.dev/batch-sizes",
                **author,
            },
        ],
    )
    post_without_link = {
        "_id": HANDBOOK_POST_ID,
        "content": {"text": "Hello", "likes": 12},
        "platform": "linkedin",
        "author_id": HANDBOOK_USER_ID,
        "image": "https://img.example/1.png",
    }
    write_json(folder, "PostDocument.json", [post_without_link])
    repository = {
        "_id": str(uuid4()),
        "content": {"src/app.py": "pass\n"},
        "platform": "github",
        "link": "https://github.com/paula/etl",
        "name": "etl",
        **author,
    }
    write_json(folder, "RepositoryDocument.json", [repository])


def test_a_handbook_export_is_converted_and_its_reimport_changes_nothing(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    target = open_warehouse("target")
    fill(target)
    write_handbook_export(tmp_path / "handbook")
    counts = import_warehouse(target, tmp_path / "handbook")
    assert counts[DataCategory.USERS] == ImportCounts(imported=1, skipped=0)
    assert counts[DataCategory.ARTICLES] == ImportCounts(imported=1, skipped=1)  # its link was stored
    assert counts[DataCategory.POSTS] == ImportCounts(imported=1, skipped=0)
    assert counts[DataCategory.REPOSITORIES] == ImportCounts(imported=1, skipped=0)
    author_id = UUID(HANDBOOK_USER_ID)
    (article,) = target.iter_documents(DataCategory.ARTICLES, author_id=author_id)
    assert article.id == UUID(HANDBOOK_ARTICLE_ID)
    assert article.content == {"title": "Data pipelines", "body": "Crawl, clean, load.", "language": "en"}
    (post,) = target.iter_documents(DataCategory.POSTS, author_id=author_id)
    assert post.author_full_name == "Paula Ionescu"
    assert post.content == {"text": "Hello", "likes": "12", "image": "https://img.example/1.png"}
    assert post.link == f"handbook-post:{HANDBOOK_POST_ID}"
    (repository,) = target.iter_documents(DataCategory.REPOSITORIES, author_id=author_id)
    assert isinstance(repository, RepositoryDocument) and repository.name == "etl"
    export_warehouse(target, tmp_path / "once")
    assert totals(import_warehouse(target, tmp_path / "handbook")) == (0, 5)
    export_warehouse(target, tmp_path / "twice")
    assert read_files(tmp_path / "twice") == read_files(tmp_path / "once")


def copy_of_one_page(link: str, created_at: datetime, body: str) -> ArticleDocument:
    return ArticleDocument(
        content={"title": "Batch sizes", "body": body},
        platform="blog",
        author_id=IRIS.id,
        author_full_name=IRIS.full_name,
        link=link,
        created_at=created_at,
    )


def write_our_export(folder: Path, users: list[UserDocument], articles: list[ArticleDocument]) -> None:
    """An export as `export_warehouse` writes it, here of a warehouse that stored one page several times."""
    write_json(folder, FILE_NAMES[DataCategory.USERS], [user.model_dump(mode="json") for user in users])
    write_json(folder, FILE_NAMES[DataCategory.ARTICLES], [a.model_dump(mode="json") for a in articles])


def test_copies_of_one_page_in_an_export_become_the_oldest_with_the_other_links_as_aliases(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    copies = [
        copy_of_one_page("https://iris.dev/batch-sizes/", datetime(2024, 2, 1, tzinfo=UTC), "Second crawl"),
        copy_of_one_page(
            "http://iris.dev/batch-sizes?utm_source=rss", datetime(2023, 1, 1, tzinfo=UTC), "First"
        ),
        copy_of_one_page("https://iris.dev/batch-sizes#why", datetime(2025, 3, 1, tzinfo=UTC), "Third crawl"),
    ]
    other_page = copy_of_one_page("https://iris.dev/small-models", datetime(2024, 1, 1, tzinfo=UTC), "Other")
    write_our_export(tmp_path / "export", [IRIS], [*copies, other_page])
    target = open_warehouse("target")

    counts = import_warehouse(target, tmp_path / "export")
    assert counts[DataCategory.ARTICLES] == ImportCounts(imported=2, skipped=0, merged=2)
    kept, other = sorted(target.iter_documents(DataCategory.ARTICLES), key=lambda d: d.created_at)
    assert other == other_page
    assert (kept.id, kept.link, kept.content["body"]) == (copies[1].id, copies[1].link, "First")
    assert kept.aliases == (copies[0].link, copies[2].link)
    assert all(target.link_exists(copy.link) for copy in copies)

    export_warehouse(target, tmp_path / "once")
    assert import_warehouse(target, tmp_path / "export")[DataCategory.ARTICLES] == ImportCounts(skipped=4)
    assert import_warehouse(target, tmp_path / "once")[DataCategory.ARTICLES] == ImportCounts(skipped=2)
    export_warehouse(target, tmp_path / "twice")
    assert read_files(tmp_path / "twice") == read_files(tmp_path / "once")


def test_a_page_already_stored_keeps_its_document_and_gains_the_imported_link(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    target = open_warehouse("target")
    target.upsert_user(IRIS)
    crawled = copy_of_one_page("https://iris.dev/batch-sizes", datetime(2025, 1, 1, tzinfo=UTC), "Crawled")
    target.insert(crawled)
    older = copy_of_one_page("https://iris.dev/batch-sizes/?ref=hn", datetime(2020, 1, 1, tzinfo=UTC), "Old")
    write_our_export(tmp_path / "export", [IRIS], [older])

    assert import_warehouse(target, tmp_path / "export")[DataCategory.ARTICLES] == ImportCounts(merged=1)
    (stored,) = target.iter_documents(DataCategory.ARTICLES)
    assert stored == crawled.model_copy(update={"aliases": (older.link,)})


def test_authors_match_ignoring_case_but_namesakes_the_export_keeps_apart_stay_apart(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    target = open_warehouse("target")
    stored = target.get_or_create_user("iris", "calder")
    ada, other_ada = (UserDocument(first_name="Ada", last_name="Quill") for _ in range(2))
    write_our_export(
        tmp_path / "export",
        [IRIS, ada, other_ada],
        [copy_of_one_page("https://iris.dev/a", datetime(2024, 1, 1, tzinfo=UTC), "A")],
    )

    counts = import_warehouse(target, tmp_path / "export")
    assert counts[DataCategory.USERS] == ImportCounts(imported=2, skipped=1)
    assert {user.id: user.full_name for user in target.list_users()} == {
        stored.id: "iris calder",
        ada.id: "Ada Quill",
        other_ada.id: "Ada Quill",
    }
    assert [d.author_id for d in target.iter_documents(DataCategory.ARTICLES)] == [stored.id]


MALFORMED = [
    pytest.param("articles.json", "[{", ["articles.json", "not valid UTF-8 JSON"], id="not-json"),
    pytest.param("posts.json", '{"a": 1}', ["posts.json", "JSON list"], id="not-a-list"),
    pytest.param("posts.json", "[1]", ["posts.json", "item 0", "JSON object"], id="item-not-object"),
    pytest.param(
        "ArticleDocument.json", "[{}]", ["ArticleDocument.json", "item 0", "'_id'"], id="handbook-missing"
    ),
    pytest.param(
        "UserDocument.json",
        '[{"_id": "u-1", "first_name": "A", "last_name": "B"}]',
        ["UserDocument.json", "item 0", "not a UUID"],
        id="handbook-bad-uuid",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), MALFORMED)
def test_a_malformed_export_is_refused_before_anything_is_written(
    open_warehouse: OpenWarehouse, tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    source = open_warehouse("source")
    fill(source)
    export = tmp_path / "export"
    if name in FILE_NAMES.values():
        export_warehouse(source, export)  # valid users.json etc. beside the broken file
    else:
        write_handbook_export(export)
    (export / name).write_text(text, encoding="utf-8")
    target = open_warehouse("target")
    target.upsert_user(TOMAS)
    export_warehouse(target, tmp_path / "before")
    with pytest.raises(ImportFormatError) as raised:
        import_warehouse(target, export)
    assert all(part in str(raised.value) for part in expected), str(raised.value)
    export_warehouse(target, tmp_path / "after")
    assert read_files(tmp_path / "after") == read_files(tmp_path / "before")


def test_an_article_missing_its_link_names_the_item(open_warehouse: OpenWarehouse, tmp_path: Path) -> None:
    source = open_warehouse("source")
    fill(source)
    export_warehouse(source, tmp_path / "export")
    path = tmp_path / "export" / "articles.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items.append({key: value for key, value in items[0].items() if key != "link"} | {"id": str(uuid4())})
    path.write_text(json.dumps(items), encoding="utf-8")
    target = open_warehouse("target")
    with pytest.raises(ImportFormatError, match=r"articles\.json, item 1: .*link"):
        import_warehouse(target, tmp_path / "export")
    assert target.list_users() == []


def test_a_folder_without_an_export_or_with_both_formats_is_refused(
    open_warehouse: OpenWarehouse, tmp_path: Path
) -> None:
    target = open_warehouse("target")
    with pytest.raises(ImportFormatError, match="not a folder"):
        import_warehouse(target, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFormatError, match="holds no export"):
        import_warehouse(target, tmp_path / "empty")
    write_handbook_export(tmp_path / "mixed")
    write_json(tmp_path / "mixed", "users.json", [])
    with pytest.raises(ImportFormatError, match="mixes our export"):
        import_warehouse(target, tmp_path / "mixed")
