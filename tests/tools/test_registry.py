"""The model registry against a throwaway ZenML store: versions made directly, no pipeline runs."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from zenml import log_metadata
from zenml.client import Client
from zenml.models import ModelVersionResponse

from tests.support.zenml_store import isolated_zenml
from tools.registry import (
    MODEL_NAME,
    RegistryError,
    list_versions,
    model_dir_of,
    models,
    production_version,
    promote,
    rollback,
)


@pytest.fixture(scope="module", autouse=True)
def zen_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One store for the module; each test starts from no model at all."""
    with isolated_zenml(tmp_path_factory.mktemp("zenml")):
        yield


@pytest.fixture(autouse=True)
def no_model() -> Iterator[None]:
    """Tests share the store, so the twin's model (and its versions) is deleted after each one."""
    yield
    client = Client()
    if client.list_models(name=MODEL_NAME).total:
        client.delete_model(MODEL_NAME)


def add_version(name: str | None = None, **metadata: float | str) -> ModelVersionResponse:
    """A new version of the twin, as a training run leaves it: named, with metrics and a model folder."""
    client = Client()
    if not client.list_models(name=MODEL_NAME).total:
        client.create_model(MODEL_NAME)
    version = client.create_model_version(MODEL_NAME, name=name)
    if metadata:
        log_metadata(metadata=dict(metadata), model_version_id=version.id)
    return version


def stages() -> dict[int, str]:
    return {summary.number: summary.stage for summary in list_versions()}


def cli(*args: str) -> Result:
    return CliRunner().invoke(models, list(args))


def test_list_shows_versions_newest_first_with_stage_and_metrics() -> None:
    add_version(judge_score=3.25, rouge_l=0.41, bleu=0.125, model_dir="/models/1", loss=1.5)
    add_version("dpo-tuned", judge_score=3.75)
    promote(1, "staging", "first candidate")

    summaries = list_versions()
    assert [(s.number, s.name, s.stage) for s in summaries] == [(2, "dpo-tuned", "none"), (1, "1", "staging")]
    assert summaries[1].metrics == {
        "judge_score": 3.25,
        "rouge_l": 0.41,
        "bleu": 0.125,
    }  # no loss, no model_dir

    result = cli("list")
    assert result.exit_code == 0, result.output
    first, second = result.output.strip().splitlines()
    assert first.split()[:3] == ["2", "dpo-tuned", "none"]
    assert first.endswith("judge_score=3.7500")
    assert second.split()[:3] == ["1", "1", "staging"]
    assert "judge_score=3.2500, rouge_l=0.4100, bleu=0.1250" in second


def test_list_without_a_model_says_how_versions_appear() -> None:
    assert list_versions() == []
    result = cli("list")
    assert result.exit_code == 0
    assert "No versions of llm_twin yet" in result.output


def test_promoting_replaces_production_and_records_the_previous_holder() -> None:
    add_version()
    add_version("candidate")
    assert production_version() is None

    promote("1", "production", "first release")
    first = production_version()
    assert first is not None and first.number == 1
    assert "previous_production" not in first.run_metadata
    assert first.run_metadata["promotion_reason"] == "first release"
    assert first.run_metadata["promoted_by"] == Client().active_user.name

    promote("candidate", "production", "better judge score")
    second = production_version()
    assert second is not None and second.number == 2
    assert second.run_metadata["previous_production"] == 1
    assert second.run_metadata["promoted_to"] == "production"
    assert stages() == {2: "production", 1: "archived"}


def test_rollback_restores_the_recorded_previous_version_and_then_stops() -> None:
    for _ in range(3):
        add_version()
    promote(1, "production", "v1")
    promote(3, "production", "v3")

    restored = rollback("v3 answers worse")
    assert restored.number == 1
    assert stages() == {3: "archived", 2: "none", 1: "production"}
    current = production_version()
    assert current is not None and current.run_metadata["rolled_back_from"] == 3

    # Version 1 never replaced anything, so there is nowhere further back to go.
    with pytest.raises(RegistryError, match="no recorded previous production version"):
        rollback()
    assert stages()[1] == "production"


def test_staging_leaves_production_alone() -> None:
    add_version()
    add_version()
    promote(1, "production", "release")
    promote(2, "staging", "try it")
    assert stages() == {2: "staging", 1: "production"}
    staged = Client().get_model_version(MODEL_NAME, 2)
    assert "previous_production" not in staged.run_metadata


def test_cli_promote_and_rollback() -> None:
    add_version()
    add_version("b")
    assert cli("promote", "1", "--stage", "production").exit_code == 0
    result = cli("promote", "b", "--stage", "production", "--reason", "judge 4.1 > 3.9")
    assert result.exit_code == 0, result.output
    assert "version b is now in production" in result.output
    newest = production_version()
    assert newest is not None and newest.run_metadata["promotion_reason"] == "judge 4.1 > 3.9"

    result = cli("rollback")
    assert result.exit_code == 0, result.output
    assert "version 1 (1) is in production again" in result.output
    assert stages() == {2: "archived", 1: "production"}

    result = cli("rollback")
    assert result.exit_code == 1
    assert "Error: Version 1 of llm_twin has no recorded previous production version" in result.output


def test_cli_errors_for_missing_versions_stages_and_production() -> None:
    result = cli("rollback")
    assert result.exit_code == 1
    assert "No version of llm_twin is in production" in result.output

    add_version()
    result = cli("promote", "7", "--stage", "production")
    assert result.exit_code == 1
    assert "llm_twin has no version '7'" in result.output
    result = cli("promote", "1", "--stage", "archived")
    assert result.exit_code == 2  # click refuses the choice before anything changes
    assert stages() == {1: "none"}
    with pytest.raises(RegistryError, match="choose one of staging, production"):
        promote(1, "archived", "not a promotion")


def test_model_dir_of_reads_the_logged_folder() -> None:
    with_dir = add_version(model_dir="/models/run-7/merged")
    add_version()
    assert model_dir_of(1) == Path("/models/run-7/merged")
    assert model_dir_of(with_dir) == Path("/models/run-7/merged")
    assert model_dir_of("2") is None
    with pytest.raises(RegistryError):
        model_dir_of(9)
