"""The ETL pipeline end to end in a temporary ZenML store, on the sample corpus."""

import shutil
from pathlib import Path

import pytest
from zenml.client import Client
from zenml.enums import ExecutionStatus

from llm_engineering.domain.documents import DataCategory
from llm_engineering.infrastructure.container import get_warehouse
from llm_engineering.infrastructure.samples import build_sample_sources, sample_links
from pipelines import digital_data_etl

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "iris-calder"


def run_etl(links: list[str], **parameters: object) -> None:
    digital_data_etl.with_options(enable_cache=False)(user_full_name="Iris Calder", links=links, **parameters)


def crawl_metadata() -> dict:
    run = Client().get_pipeline("digital_data_etl").last_run
    return run.steps["crawl_links"].run_metadata


def warehouse_counts() -> dict[DataCategory, int]:
    store = get_warehouse()
    return {
        category: store.count(category) for category in DataCategory if category is not DataCategory.USERS
    }


def test_sample_corpus_is_stored_once_across_two_runs(data_dir: Path) -> None:
    links = sample_links(build_sample_sources(SAMPLES, data_dir / "samples"))

    run_etl(links)
    first = warehouse_counts()
    metadata = crawl_metadata()
    assert all(count > 0 for count in first.values()), first
    assert metadata["documents_stored"] == sum(first.values())
    assert metadata["failure_rate"] == 0.0

    run_etl(links)
    assert warehouse_counts() == first
    assert crawl_metadata()["documents_stored"] == 0
    assert len(get_warehouse().list_users()) == 1


def test_failed_links_are_recorded_and_the_run_fails_past_the_limit(data_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLES / "notes", notes)
    good = f"folder:{notes}"
    bad = ["linkedin-export:/nowhere/at/all", f"{tmp_path}/not-a-repository"]

    with pytest.raises(RuntimeError):
        run_etl([good, *bad], max_failure_rate=0.5)
    run = Client().get_pipeline("digital_data_etl").last_run
    assert run.status is ExecutionStatus.FAILED
    metadata = run.steps["crawl_links"].run_metadata
    assert set(metadata["failures"]) == set(bad)
    # What was crawled before the limit tripped stays stored.
    assert get_warehouse().count(DataCategory.ARTICLES) == len(list(notes.iterdir()))

    run_etl([good, *bad], max_failure_rate=0.7)
    assert Client().get_pipeline("digital_data_etl").last_run.status is ExecutionStatus.COMPLETED
