"""A command that cannot use a store says so in one line that names the fix, never with a traceback."""

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llm_engineering.infrastructure import container
from tools.run import cli


def invoke(*args: str) -> Result:
    container.clear()  # the settings are read again, from the environment each test set
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result: Result, *expected: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and all(text in line for text in expected), line
    return line


def test_warehouse_summary_against_an_unreachable_mongodb(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_HOST", "mongodb://127.0.0.1:1")
    monkeypatch.setenv("DATABASE_TIMEOUT_MS", "200")
    assert_one_line_error(invoke("warehouse-summary"), "127.0.0.1:1 did not answer", "DATABASE_HOST")


def test_feature_store_summary_against_an_unreachable_qdrant(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QDRANT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("QDRANT_TIMEOUT_S", "1")
    assert_one_line_error(invoke("feature-store-summary"), "Qdrant at http://127.0.0.1:1", "QDRANT_URL")


def test_warehouse_summary_of_a_damaged_warehouse_names_the_file(data_dir: Path) -> None:
    database = data_dir / "warehouse" / "twin"
    database.mkdir(parents=True)
    (database / "posts").write_bytes(b"")
    assert_one_line_error(
        invoke("warehouse-summary"),
        f"{database.resolve() / 'posts'} is empty",
        "poe run-import-data-warehouse-from-json",
    )


def test_a_pipeline_whose_step_raises_a_twin_error_fails_with_its_message(
    data_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "features.yaml"
    config.write_text("parameters:\n  author_full_names: [Nobody Here]\n")

    result = invoke("feature-engineering", "--config", str(config))

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: No author named 'Nobody Here' in the warehouse (known: none). "
        "Crawl them first with `poe run-digital-data-etl`."
    )
