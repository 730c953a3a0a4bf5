"""The ZenML registry adapter against a throwaway ZenML store: versions made directly, no pipeline runs."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from zenml.client import Client

from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.registry import Key, Stage
from llm_engineering.infrastructure.model_registry import ZenMLModelRegistry
from tests.support.zenml_store import add_twin_version, delete_twin_model, isolated_zenml

REGISTRY = ZenMLModelRegistry()


@pytest.fixture(scope="module", autouse=True)
def zen_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One store for the module; each test starts from no model at all."""
    with isolated_zenml(tmp_path_factory.mktemp("zenml")):
        yield


@pytest.fixture(autouse=True)
def no_model() -> Iterator[None]:
    yield
    delete_twin_model()


def stages() -> dict[int, str]:
    return {version.number: version.stage or "none" for version in REGISTRY.list_versions()}


def test_versions_come_newest_first_with_stage_and_metrics() -> None:
    add_twin_version(judge_score=3.25, rouge_l=0.41, bleu=0.125, model_dir="/models/1", loss=1.5)
    add_twin_version("dpo-tuned")
    REGISTRY.log_metadata("dpo-tuned", {Key.METRICS: {"judge_score": 3.75, "meteor": 0.5}})
    REGISTRY.promote(1, Stage.STAGING, "first candidate")

    versions = REGISTRY.list_versions()
    assert [(v.number, v.name, v.stage) for v in versions] == [(2, "dpo-tuned", None), (1, "1", "staging")]
    assert versions[0].metrics == {"judge_score": 3.75, "meteor": 0.5}
    # Versions evaluated before metrics were one mapping keep showing their flat keys; loss is no metric.
    assert versions[1].metrics == {"judge_score": 3.25, "rouge_l": 0.41, "bleu": 0.125}
    assert REGISTRY.latest().number == 2


def test_an_empty_registry_has_no_latest_and_no_production() -> None:
    assert REGISTRY.list_versions() == [] and REGISTRY.production() is None
    with pytest.raises(RegistryError, match="run the training pipeline"):
        REGISTRY.latest()


def test_promoting_replaces_production_and_records_the_previous_holder() -> None:
    add_twin_version()
    add_twin_version("candidate")
    assert REGISTRY.production() is None

    REGISTRY.promote("1", Stage.PRODUCTION, "first release")
    first = REGISTRY.production()
    assert first is not None and first.number == 1
    assert Key.PREVIOUS_PRODUCTION not in first.metadata
    assert first.metadata[Key.PROMOTION_REASON] == "first release"
    assert first.metadata[Key.PROMOTED_BY] == Client().active_user.name

    second = REGISTRY.promote("candidate", Stage.PRODUCTION, "better judge score")
    assert second.number == 2 and second.stage == "production"
    assert second.metadata[Key.PREVIOUS_PRODUCTION] == 1
    assert second.metadata[Key.PROMOTED_TO] == "production"
    assert stages() == {2: "production", 1: "archived"}


def test_rollback_restores_the_recorded_previous_version_and_then_stops() -> None:
    for _ in range(3):
        add_twin_version()
    REGISTRY.promote(1, Stage.PRODUCTION, "v1")
    REGISTRY.promote(3, Stage.PRODUCTION, "v3")

    restored = REGISTRY.rollback("v3 answers worse")
    assert restored.number == 1
    assert stages() == {3: "archived", 2: "none", 1: "production"}
    assert restored.metadata[Key.ROLLED_BACK_FROM] == 3

    # Version 1 never replaced anything, so there is nowhere further back to go.
    with pytest.raises(RegistryError, match="no recorded previous production version"):
        REGISTRY.rollback("again")
    assert stages()[1] == "production"


def test_staging_leaves_production_alone() -> None:
    add_twin_version()
    add_twin_version()
    REGISTRY.promote(1, Stage.PRODUCTION, "release")
    staged = REGISTRY.promote(2, Stage.STAGING, "try it")
    assert stages() == {2: "staging", 1: "production"}
    assert Key.PREVIOUS_PRODUCTION not in staged.metadata


def test_missing_versions_stages_and_production_are_errors_that_say_what_to_do() -> None:
    with pytest.raises(RegistryError, match="No version of llm_twin is in production"):
        REGISTRY.rollback("nothing there")
    add_twin_version()
    with pytest.raises(RegistryError, match="llm_twin has no version '7'"):
        REGISTRY.get("7")
    with pytest.raises(RegistryError, match="choose one of staging, production"):
        REGISTRY.promote(1, "archived", "not a promotion")  # type: ignore[arg-type]
    assert stages() == {1: "none"}


def test_model_dir_reads_the_logged_folder() -> None:
    add_twin_version(model_dir="/models/run-7/merged")
    add_twin_version()
    assert REGISTRY.model_dir(1) == Path("/models/run-7/merged")
    with pytest.raises(RegistryError, match="no logged model_dir; run the training pipeline"):
        REGISTRY.model_dir("2")
    with pytest.raises(RegistryError, match="no version"):
        REGISTRY.model_dir(9)


def test_a_version_trained_elsewhere_is_fetched_from_its_uploaded_copy_once(tmp_path: Path) -> None:
    here = tmp_path / "trained-here"
    here.mkdir()
    add_twin_version(model_dir=str(here), model_uri="s3://twin/models/twin/run-1")
    add_twin_version(model_dir="/opt/ml/job/run-2/merged", model_uri="s3://twin/models/twin/run-2")
    add_twin_version(model_dir="/opt/ml/job/run-3/merged")
    add_twin_version(model_dir="/opt/ml/job/run-4/merged", model_uri="s3://twin/models/twin/run-4")
    fetched: list[str] = []

    def fetch(uri: str) -> Path:
        fetched.append(uri)
        return tmp_path / "cache" / uri.rsplit("/", 1)[1]

    registry = ZenMLModelRegistry(fetch=fetch)

    assert registry.model_dir(1) == here  # the folder exists here: nothing to fetch
    assert registry.model_dir(2) == tmp_path / "cache" / "run-2"
    assert registry.model_dir(4) == tmp_path / "cache" / "run-4"
    assert fetched == ["s3://twin/models/twin/run-2", "s3://twin/models/twin/run-4"]
    # No uploaded copy: the logged folder, which the loader then reports missing.
    assert registry.model_dir(3) == Path("/opt/ml/job/run-3/merged")
    with pytest.raises(RegistryError, match="at s3://twin/models/twin/run-2, and this registry cannot fetch"):
        REGISTRY.model_dir(2)
