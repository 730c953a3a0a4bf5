"""Attaching and detaching autoscaling, on moto's Application Auto Scaling: what it holds afterwards."""

from typing import Any

import boto3
import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.autoscaling import attach_autoscaling, detach_autoscaling
from llm_engineering.infrastructure.aws.endpoint_config import DeployConfig
from tests.support.aws import stubbed_client
from tests.support.aws_standin import REGION

TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/llm-twin/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


def targets(client: Any) -> list[tuple[str, str, int, int]]:
    described = client.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    return [(t["ResourceId"], t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in described]


def test_autoscaling_registers_the_variant_and_tracks_invocations(aws_account: str) -> None:
    client = boto3.client("application-autoscaling", region_name=REGION)
    config = DeployConfig(min_capacity=1, max_capacity=4, target_invocations_per_instance=50.0)

    arn = attach_autoscaling(client, config)

    assert targets(client) == [(TARGET["ResourceId"], TARGET["ScalableDimension"], 1, 4)]
    (policy,) = client.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert policy.items() >= {**TARGET, "PolicyARN": arn, "PolicyType": "TargetTrackingScaling"}.items()
    assert policy["PolicyName"] == "llm-twin-invocations-per-instance"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 50.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60,
    }

    # Attaching again changes the bounds and the target in place.
    attach_autoscaling(
        client, config.model_copy(update={"max_capacity": 6, "target_invocations_per_instance": 20.0})
    )
    assert targets(client) == [(TARGET["ResourceId"], TARGET["ScalableDimension"], 1, 6)]
    (policy,) = client.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 20.0

    # AWS deletes the target's policies with it; moto keeps them, so only the target is checked.
    detach_autoscaling(client, "llm-twin")
    assert targets(client) == []

    with pytest.raises(
        TwinError, match=r"Detaching autoscaling from endpoint 'llm-twin' failed .*No scalable target"
    ):
        detach_autoscaling(client, "llm-twin")


def test_autoscaling_a_missing_endpoint_says_to_deploy_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stubber: moto registers a target for any SageMaker resource id without checking the endpoint exists.
    with stubbed_client("application-autoscaling", monkeypatch) as (client, stubber):
        stubber.add_client_error(
            "register_scalable_target", "ValidationException", "Could not find endpoint llm-twin", 400
        )
        with pytest.raises(TwinError, match=r"Could not find endpoint llm-twin\. Deploy first"):
            attach_autoscaling(client, DeployConfig())
