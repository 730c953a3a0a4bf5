"""TrainingConfig's rules: stages listed once, in order, each with its own settings."""

import pytest
from pydantic import ValidationError

from llm_engineering.domain.training import TrainingConfig


@pytest.mark.parametrize(
    ("stages", "message"),
    [([], "empty"), (["sft", "sft"], "repeats"), (["dpo", "sft"], "out of order")],
)
def test_stages_must_be_listed_once_in_order(stages: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainingConfig.model_validate({"stages": stages})


def test_each_stage_has_its_own_settings() -> None:
    config = TrainingConfig.model_validate({"sft": {"learning_rate": 1e-3}, "dpo": {"learning_rate": 1e-6}})
    assert config.stage_settings("sft").learning_rate == 1e-3
    assert config.stage_settings("dpo").learning_rate == 1e-6
