"""The shipped run configs hold only fields their config classes know, with values those classes accept."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.domain.training import TrainingConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def pipeline_config(document: dict[str, Any]) -> Any:
    return document["parameters"]["config"]


@pytest.mark.parametrize(
    ("file", "model", "section"),
    [
        ("training.yaml", TrainingConfig, pipeline_config),
        ("evaluating.yaml", EvaluationConfig, pipeline_config),
        ("generate_instruct_datasets.yaml", DatasetConfig, pipeline_config),
        ("generate_preference_datasets.yaml", DatasetConfig, pipeline_config),
        ("inference.yaml", AnswerConfig, lambda document: document),
    ],
)
def test_a_shipped_config_loads_into_its_class(file: str, model: type[BaseModel], section: Any) -> None:
    overrides = section(yaml.safe_load((CONFIGS / file).read_text()))
    loaded = model.model_validate(overrides)  # the classes forbid unknown fields
    assert loaded.model_dump(include=set(overrides)).keys() == overrides.keys()
