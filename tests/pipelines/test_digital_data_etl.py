"""The ETL pipeline end to end in a temporary ZenML store, on the sample corpus."""

import shutil
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
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


def test_a_malformed_link_fails_alone_and_the_run_finishes(data_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLES / "notes", notes)
    malformed = "http://[::1/post"

    run_etl([f"folder:{notes}", malformed], max_failure_rate=1.0)
    run = Client().get_pipeline("digital_data_etl").last_run
    assert run.status is ExecutionStatus.COMPLETED
    metadata = run.steps["crawl_links"].run_metadata
    assert list(metadata["failures"]) == [malformed]
    assert f"{malformed!r} is not a well-formed URL" in metadata["failures"][malformed]
    assert metadata["per_domain"]["malformed"]["failed"] == 1
    report = run.steps["crawl_links"].outputs["crawl_report"][0].load()
    assert [o.status.value for o in report.outcomes] == ["stored", "failed"]
    assert get_warehouse().count(DataCategory.ARTICLES) == len(list(notes.iterdir()))


def test_an_author_id_in_the_run_config_names_the_author_and_a_name_it_does_not_match_fails(
    data_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(SAMPLES / "notes", notes)
    author_id = uuid4()
    config = tmp_path / "run.yaml"
    parameters = {"user_full_name": "Ada Quill", "user_id": str(author_id), "links": [f"folder:{notes}"]}
    config.write_text(yaml.safe_dump({"parameters": parameters}), encoding="utf-8")
    get_warehouse().get_or_create_user("Ada", "Quill")  # a namesake: another person

    digital_data_etl.with_options(enable_cache=False, config_path=str(config))()
    ada = get_warehouse().get_user(author_id)
    assert ada is not None and ada.full_name == "Ada Quill"
    assert len(get_warehouse().list_users()) == 2
    assert {d.author_id for d in get_warehouse().iter_documents(DataCategory.ARTICLES)} == {author_id}

    with pytest.raises(RuntimeError):
        digital_data_etl.with_options(enable_cache=False)(
            user_full_name="Tomas Reyes", links=[f"folder:{notes}"], user_id=author_id
        )
    step = Client().get_pipeline("digital_data_etl").last_run.steps["get_or_create_user"]
    assert step.status is ExecutionStatus.FAILED
    assert step.exception_info is not None
    assert f"user_id {author_id} is the author 'Ada Quill', not 'Tomas Reyes'" in step.exception_info.message
