"""The `models` commands over the registry the composition root builds, in a throwaway ZenML store."""

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from llm_engineering.infrastructure.container.models import get_model_registry
from tests.support.zenml_store import add_twin_version, delete_twin_model, isolated_zenml
from tools.registry import models


@pytest.fixture(scope="module", autouse=True)
def zen_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_zenml(tmp_path_factory.mktemp("zenml")):
        yield


@pytest.fixture(autouse=True)
def no_model() -> Iterator[None]:
    yield
    delete_twin_model()


def cli(*args: str) -> Result:
    return CliRunner().invoke(models, list(args))


def test_list_shows_versions_newest_first_with_stage_and_metrics() -> None:
    add_twin_version(judge_score=3.25, rouge_l=0.41, bleu=0.125, model_dir="/models/1", loss=1.5)
    add_twin_version("dpo-tuned", evaluation_metrics={"judge_score": 3.75, "meteor": 0.5})  # type: ignore[arg-type]
    assert cli("promote", "1", "--stage", "staging").exit_code == 0

    result = cli("list")
    assert result.exit_code == 0, result.output
    first, second = result.output.strip().splitlines()
    assert first.split()[:3] == ["2", "dpo-tuned", "none"]
    assert first.endswith("judge_score=3.7500, meteor=0.5000")  # a new metric shows with no code for it
    assert second.split()[:3] == ["1", "1", "staging"]
    assert "judge_score=3.2500, rouge_l=0.4100, bleu=0.1250" in second and "loss" not in second


def test_list_without_a_model_says_how_versions_appear() -> None:
    result = cli("list")
    assert result.exit_code == 0
    assert "No versions of llm_twin yet" in result.output


def test_cli_promote_and_rollback() -> None:
    add_twin_version()
    add_twin_version("b")
    assert cli("promote", "1", "--stage", "production").exit_code == 0
    result = cli("promote", "b", "--stage", "production", "--reason", "judge 4.1 > 3.9")
    assert result.exit_code == 0, result.output
    assert "llm_twin version 2 is now in production" in result.output
    newest = get_model_registry().production()
    assert newest is not None and newest.metadata["promotion_reason"] == "judge 4.1 > 3.9"

    result = cli("rollback")
    assert result.exit_code == 0, result.output
    assert "llm_twin version 1 (1) is in production again" in result.output

    result = cli("rollback")
    assert result.exit_code == 1
    assert "Error: Version 1 of llm_twin has no recorded previous production version" in result.output


def test_cli_errors_for_missing_versions_stages_and_production() -> None:
    result = cli("rollback")
    assert result.exit_code == 1
    assert "No version of llm_twin is in production" in result.output

    add_twin_version()
    result = cli("promote", "7", "--stage", "production")
    assert result.exit_code == 1
    assert "llm_twin has no version '7'" in result.output
    result = cli("promote", "1", "--stage", "archived")
    assert result.exit_code == 2  # click refuses the choice before anything changes
    assert get_model_registry().get(1).stage is None
