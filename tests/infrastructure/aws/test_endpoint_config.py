"""The deployment config's limits, the TGI image each region serves from, and one release's requests."""

from typing import Any

import pytest
from pydantic import ValidationError

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.endpoint_config import (
    TGI_IMAGE_TAG,
    DeployConfig,
    ModelRelease,
    endpoint_requests,
    tgi_image,
)
from tests.support.aws import NEW

TGI = f"763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-pytorch-tgi-inference:{TGI_IMAGE_TAG}"
ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker"
URL = "s3://twin-artifacts/deployments/llm-twin/20250301-142500/model.tar.gz"
RELEASE = ModelRelease(model_data_url=URL, role_arn=ROLE, version="20250301-142500")


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


def test_a_release_is_a_tgi_model_reading_the_archive_behind_one_variant() -> None:
    requests = endpoint_requests(DeployConfig(), RELEASE, "eu-central-1")

    assert requests["model"] == {
        "ModelName": NEW,
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {
            "Image": TGI,
            "ModelDataUrl": URL,
            "Environment": {
                "HF_MODEL_ID": "/opt/ml/model",  # where SageMaker extracts the archive
                "SM_NUM_GPUS": "1",
                "MAX_INPUT_TOKENS": "2048",
                "MAX_TOTAL_TOKENS": "4096",
                "MAX_BATCH_PREFILL_TOKENS": "4096",
                "HF_HUB_OFFLINE": "1",
            },
        },
    }
    assert requests["endpoint_config"] == {
        "EndpointConfigName": NEW,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": NEW,
                "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 1,
                "ContainerStartupHealthCheckTimeoutInSeconds": 900,
            }
        ],
    }


def test_the_config_reaches_the_requests() -> None:
    config = DeployConfig(
        endpoint_name="twin-prod",
        instance_type="ml.g5.12xlarge",
        initial_instance_count=2,
        image_uri="example.com/tgi:own",
        max_input_tokens=1024,
        num_gpus=4,
        health_check_timeout_s=1800,
    )
    requests = endpoint_requests(config, RELEASE, "us-east-1")

    container = requests["model"]["PrimaryContainer"]
    assert container["Image"] == "example.com/tgi:own"
    assert (container["Environment"]["SM_NUM_GPUS"], container["Environment"]["MAX_INPUT_TOKENS"]) == (
        "4",
        "1024",
    )
    (variant,) = requests["endpoint_config"]["ProductionVariants"]
    assert variant["ModelName"] == requests["model"]["ModelName"] == "twin-prod-20250301-142500"
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g5.12xlarge", 2)
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 1800
