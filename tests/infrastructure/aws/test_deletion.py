"""Deleting an endpoint with its configs and models, on moto's AWS server: what is left afterwards."""

from typing import Any

import boto3
import pytest

from llm_engineering.infrastructure.aws.deletion import Deletion, delete_endpoint
from tests.support.aws import NEW, OLD
from tests.support.aws_standin import REGION, ROLE

STAGING = "llm-twin-staging-20250301-142500"  # another endpoint's version, which a name search also finds


@pytest.fixture
def sagemaker(aws_account: str) -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def release(sagemaker: Any, config_name: str, model_name: str | None = None) -> None:
    """A model and an endpoint config serving it, as a deployment leaves them."""
    model_name = model_name or config_name
    sagemaker.create_model(
        ModelName=model_name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "tgi", "ModelDataUrl": "s3://b/k"},
    )
    # moto's list of endpoint instance types predates the g5 family the twin is served on.
    variant = {"VariantName": "AllTraffic", "ModelName": model_name, "InstanceType": "ml.g4dn.xlarge"}
    sagemaker.create_endpoint_config(
        EndpointConfigName=config_name, ProductionVariants=[variant | {"InitialInstanceCount": 1}]
    )


def remaining(sagemaker: Any) -> tuple[list[str], list[str], list[str]]:
    """The endpoints, endpoint configs and models moto still holds."""
    return (
        [endpoint["EndpointName"] for endpoint in sagemaker.list_endpoints()["Endpoints"]],
        sorted(
            config["EndpointConfigName"] for config in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ),
        sorted(model["ModelName"] for model in sagemaker.list_models()["Models"]),
    )


def test_delete_removes_the_endpoint_its_config_models_and_older_versions(sagemaker: Any) -> None:
    for name in (OLD, NEW, STAGING):
        release(sagemaker, name)
    sagemaker.create_endpoint(EndpointName="llm-twin", EndpointConfigName=NEW)
    sagemaker.create_endpoint(EndpointName="llm-twin-staging", EndpointConfigName=STAGING)

    # Sorted, the oldest version first.
    assert delete_endpoint(sagemaker, "llm-twin") == Deletion("llm-twin", (OLD, NEW), (OLD, NEW))

    assert remaining(sagemaker) == (["llm-twin-staging"], [STAGING], [STAGING])


def test_a_config_named_by_other_tooling_goes_with_its_endpoint(sagemaker: Any) -> None:
    release(sagemaker, "twin-by-hand", model_name="twin-model-by-hand")
    sagemaker.create_endpoint(EndpointName="llm-twin", EndpointConfigName="twin-by-hand")

    deletion = delete_endpoint(sagemaker, "llm-twin")

    assert deletion == Deletion("llm-twin", ("twin-by-hand",), ("twin-model-by-hand",))
    assert remaining(sagemaker) == ([], [], [])


def test_deleting_a_missing_endpoint_removes_only_leftovers_and_then_nothing(sagemaker: Any) -> None:
    release(sagemaker, OLD)
    release(sagemaker, STAGING)

    assert delete_endpoint(sagemaker, "llm-twin") == Deletion(None, (OLD,), (OLD,))
    assert delete_endpoint(sagemaker, "llm-twin") == Deletion(None, (), ())

    assert remaining(sagemaker) == ([], [STAGING], [STAGING])
