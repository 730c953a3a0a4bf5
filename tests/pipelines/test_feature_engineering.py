"""The feature pipeline end to end in a temporary ZenML store, with the real embedding model."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from zenml.client import Client
from zenml.enums import ExecutionStatus

from llm_engineering.application.features import FeatureConfig, update_feature_store
from llm_engineering.domain.chunking import ChunkingConfig
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import CLEANED_COLLECTIONS, EMBEDDED_COLLECTIONS
from llm_engineering.infrastructure.container import (
    get_embedder,
    get_settings,
    get_vector_index,
    get_warehouse,
)
from llm_engineering.infrastructure.warehouse.connection import connect_database
from pipelines import digital_data_etl, feature_engineering
from tests.support.fakes import InMemoryVectorIndex
from tools.run import cli

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "iris-calder"


def last_step_metadata(step: str) -> dict:
    return Client().get_pipeline("feature_engineering").last_run.steps[step].run_metadata


def test_features_are_built_once_and_then_left_alone(data_dir: Path) -> None:
    links = [f"folder:{SAMPLES / 'notes'}", f"linkedin-export:{SAMPLES / 'linkedin-export'}"]
    digital_data_etl.with_options(enable_cache=False)(user_full_name="Iris Calder", links=links)

    feature_engineering.with_options(enable_cache=False)(author_full_names=["Iris Calder"])
    index = get_vector_index()
    first = {
        name: index.count(name) for name in [*CLEANED_COLLECTIONS.values(), *EMBEDDED_COLLECTIONS.values()]
    }
    assert first["cleaned_articles"] == 3 and first["cleaned_posts"] == 7
    assert first["embedded_articles"] >= 3 and first["embedded_posts"] >= 7
    assert last_step_metadata("chunk_and_embed")["plan"] == {
        "new": 10,
        "changed": 0,
        "unchanged": 0,
        "removed": 0,
    }
    hits = index.search("embedded_posts", [0.1] * 384, limit=3, where={"author_full_name": "Iris Calder"})
    assert len(hits) == 3 and all(hit.payload["platform"] == "linkedin" for hit in hits)

    feature_engineering.with_options(enable_cache=False)(author_full_names=["Iris Calder"])
    assert last_step_metadata("chunk_and_embed")["plan"] == {
        "new": 0,
        "changed": 0,
        "unchanged": 10,
        "removed": 0,
    }
    assert {name: index.count(name) for name in first} == first

    # A chunking override reaches the documents already indexed: the store ends as an empty one would.
    finer = FeatureConfig(chunking=ChunkingConfig(post_max_tokens=24, post_overlap_tokens=0))
    feature_engineering.with_options(enable_cache=False)(author_full_names=["Iris Calder"], config=finer)
    metadata = last_step_metadata("chunk_and_embed")
    assert metadata["plan"] == {"new": 0, "changed": 10, "unchanged": 0, "removed": 0}
    assert metadata["changed_because"]["chunking"] == 10
    empty = InMemoryVectorIndex()
    update_feature_store(get_warehouse(), empty, get_embedder(), ["Iris Calder"], finer)
    assert {name: index.count(name) for name in first} == {name: empty.count(name) for name in first}
    assert index.count("embedded_posts") > first["embedded_posts"]


def test_a_warehouse_that_lost_most_documents_does_not_empty_the_feature_store(data_dir: Path) -> None:
    links = [f"folder:{SAMPLES / 'notes'}", f"linkedin-export:{SAMPLES / 'linkedin-export'}"]
    digital_data_etl.with_options(enable_cache=False)(user_full_name="Iris Calder", links=links)
    feature_engineering.with_options(enable_cache=False)(author_full_names=["Iris Calder"])
    index = get_vector_index()
    names = [*CLEANED_COLLECTIONS.values(), *EMBEDDED_COLLECTIONS.values()]
    before = {name: index.count(name) for name in names}
    connect_database(get_settings())[DataCategory.POSTS].delete_many({})  # 7 of the author's 10 documents

    with pytest.raises(RuntimeError, match="chunk_and_embed"):  # how ZenML reports a failed step by default
        feature_engineering.with_options(enable_cache=False)(author_full_names=["Iris Calder"])
    refused = CliRunner().invoke(cli, ["feature-engineering"])

    last_run = Client().get_pipeline("feature_engineering").last_run
    assert last_run.steps["chunk_and_embed"].status == ExecutionStatus.FAILED
    assert "load_to_vector_db" not in last_run.steps
    assert {name: index.count(name) for name in names} == before
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "7 of the 10 indexed documents of Iris Calder" in refused.output.strip().splitlines()[-1]

    allowed = CliRunner().invoke(cli, ["feature-engineering", "--allow-mass-removal"])

    assert allowed.exit_code == 0, allowed.output
    assert index.count("cleaned_posts") == index.count("embedded_posts") == 0
    assert index.count("cleaned_articles") == before["cleaned_articles"] == 3
