"""The `data_warehouse` commands against the embedded warehouse that the settings point at."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from loguru import logger

from llm_engineering.domain.documents import ArticleDocument, DataCategory
from llm_engineering.infrastructure import container
from llm_engineering.infrastructure.container import get_warehouse
from tools.data_warehouse import data_warehouse

UseWarehouse = Callable[[str], None]


@pytest.fixture
def use_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UseWarehouse]:
    """Points the container's settings at the embedded warehouse `tmp_path/<name>`."""
    monkeypatch.setenv("DATABASE_HOST", "")  # empty means embedded, whatever a .env says

    def point_at(name: str) -> None:
        monkeypatch.setenv("DATA_DIR", str(tmp_path / name))
        container.clear()

    yield point_at
    container.clear()


@pytest.fixture
def log_messages() -> Iterator[list[str]]:
    """What the commands log, one message per item."""
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(message.record["message"]), level="INFO")
    yield messages
    logger.remove(sink)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(data_warehouse, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_export_then_import_moves_the_warehouse(
    use_warehouse: UseWarehouse, tmp_path: Path, log_messages: list[str]
) -> None:
    use_warehouse("source")
    author = get_warehouse().get_or_create_user("Iris", "Calder")
    article = ArticleDocument(
        content={"title": "Batch sizes", "body": "Small first."},
        platform="blog",
        author_id=author.id,
        author_full_name=author.full_name,
        link="https://iris.dev/batch-sizes",
    )
    get_warehouse().insert(article)
    export_dir = tmp_path / "export"
    invoke("export", "--data-dir", str(export_dir))
    assert [item["link"] for item in json.loads((export_dir / "articles.json").read_text())] == [article.link]
    assert any("1 users, 1 articles, 0 posts, 0 repositories" in message for message in log_messages)

    use_warehouse("target")
    invoke("import", "--data-dir", str(export_dir))
    assert get_warehouse().list_users() == [author]
    assert list(get_warehouse().iter_documents(DataCategory.ARTICLES)) == [article]
    assert any("articles: 1 imported, 0 skipped" in message for message in log_messages)

    invoke("import", "--data-dir", str(export_dir))
    assert any("articles: 0 imported, 1 skipped" in message for message in log_messages)
    assert get_warehouse().count(DataCategory.ARTICLES) == 1


def test_a_handbook_export_is_imported(use_warehouse: UseWarehouse, tmp_path: Path) -> None:
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    user = {"_id": "a4f0c9e2-7b13-4c6d-9e58-31d2b6f08c47", "first_name": "Maxim", "last_name": "Lab"}
    (handbook / "UserDocument.json").write_text(json.dumps([user]))
    use_warehouse("target")
    invoke("import", "--data-dir", str(handbook))
    assert [u.full_name for u in get_warehouse().list_users()] == ["Maxim Lab"]


def test_a_malformed_export_fails_with_the_fix_and_writes_nothing(
    use_warehouse: UseWarehouse, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "users.json").write_text(json.dumps([{"first_name": "Ada", "last_name": "King"}]))
    (broken / "posts.json").write_text("[{]")
    use_warehouse("target")
    result = CliRunner().invoke(data_warehouse, ["import", "--data-dir", str(broken)])
    assert result.exit_code == 1
    assert "posts.json is not valid UTF-8 JSON" in result.output
    assert "Traceback" not in result.output
    assert get_warehouse().list_users() == []
