"""Which integrations training reports to, from the settings."""

import importlib.util
import os
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.training import tracking, trl_training
from llm_engineering.infrastructure.training.models import precision_for


@pytest.fixture(autouse=True)
def clean_comet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset before and restored after: `experiment_trackers` writes these, and later tests read them."""
    for name in ("COMET_API_KEY", "COMET_PROJECT_NAME", "COMET_WORKSPACE"):
        monkeypatch.setenv(name, "")  # recorded, so the original state comes back after the test
        monkeypatch.delenv(name)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_without_a_key_nothing_but_zenml_is_reported() -> None:
    assert tracking.experiment_trackers(settings()) == []
    assert "COMET_API_KEY" not in os.environ


def test_a_key_without_the_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TwinError, match="pip install comet-ml"):
        tracking.experiment_trackers(settings(comet_api_key="c0met-key-123"))


def test_a_key_turns_comet_on_and_exports_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name == "comet_ml" else real_find_spec(name)
    )
    chosen = tracking.experiment_trackers(
        settings(comet_api_key="c0met-key-123", comet_project="twin-runs", comet_workspace="iris")
    )
    assert chosen == ["comet_ml"]
    assert (os.environ["COMET_API_KEY"], os.environ["COMET_PROJECT_NAME"]) == ("c0met-key-123", "twin-runs")
    assert os.environ["COMET_WORKSPACE"] == "iris"


@pytest.mark.parametrize(("report_to", "expected"), [((), "none"), (("comet_ml",), ["comet_ml"])])
def test_the_trainer_arguments_carry_the_trackers(
    tmp_path: Path, report_to: tuple[str, ...], expected: object
) -> None:
    config = TrainingConfig()
    run = trl_training._Run(config, None, tmp_path / "run-7", precision_for(config), report_to)
    arguments = trl_training._arguments("sft", run, evaluates=False)
    assert arguments["report_to"] == expected and arguments["run_name"] == "run-7-sft"


@pytest.mark.parametrize(("group", "strategy"), [(False, "random"), (True, "group_by_length")])
def test_rows_of_like_length_are_batched_together_when_asked(
    tmp_path: Path, group: bool, strategy: str
) -> None:
    config = TrainingConfig(group_by_length=group)
    run = trl_training._Run(config, None, tmp_path / "run-8", precision_for(config), ())
    assert trl_training._arguments("sft", run, evaluates=False)["train_sampling_strategy"] == strategy
    assert trl_training._arguments("dpo", run, evaluates=False)["train_sampling_strategy"] == "random"
