"""The deployment config's limits and the TGI image each region serves from."""

from typing import Any

import pytest
from pydantic import ValidationError

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.endpoint_config import TGI_IMAGE_TAG, DeployConfig, tgi_image

TGI = f"763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-pytorch-tgi-inference:{TGI_IMAGE_TAG}"


def test_the_image_follows_the_region_unless_one_is_given() -> None:
    assert tgi_image("eu-central-1") == TGI
    assert tgi_image("af-south-1", "3").startswith("626614931356.dkr.ecr.af-south-1.amazonaws.com/")
    assert tgi_image("us-east-1", "own-tag").endswith("huggingface-pytorch-tgi-inference:own-tag")
    with pytest.raises(TwinError, match="set image_uri"):
        tgi_image("mars-north-1")


@pytest.mark.parametrize(
    "change",
    [
        {"max_input_tokens": 4096},  # not below max_total_tokens
        {"max_batch_prefill_tokens": 1024},  # below max_input_tokens
        {"min_capacity": 3},  # above max_capacity
        {"endpoint_name": "llm_twin"},
        {"endpoint_name": "t" * 48},  # no room left for the version suffix
        {"instance_type": "g5.xlarge"},
        {"health_check_timeout_s": 30},
        {"instance_typo": "ml.g5.xlarge"},
    ],
)
def test_inconsistent_configs_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DeployConfig(**change)
