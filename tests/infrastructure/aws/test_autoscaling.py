"""Attaching and detaching autoscaling, sent to a real boto3 client that a Stubber answers."""

import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.autoscaling import attach_autoscaling, detach_autoscaling
from llm_engineering.infrastructure.aws.endpoint_config import DeployConfig
from tests.support.aws import stubbed_client

TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/llm-twin/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


def test_autoscaling_registers_the_variant_and_tracks_invocations(monkeypatch: pytest.MonkeyPatch) -> None:
    config = DeployConfig(min_capacity=1, max_capacity=4, target_invocations_per_instance=50.0)
    policy = {
        "PolicyName": "llm-twin-invocations-per-instance",
        **TARGET,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }
    arn = "arn:aws:autoscaling:eu-central-1:123456789012:scalingPolicy:1:resource/sagemaker/x"
    with stubbed_client("application-autoscaling", monkeypatch) as (client, stubber):
        stubber.add_response("register_scalable_target", {}, {**TARGET, "MinCapacity": 1, "MaxCapacity": 4})
        stubber.add_response("put_scaling_policy", {"PolicyARN": arn, "Alarms": []}, policy)
        assert attach_autoscaling(client, config) == arn

        stubber.add_response("deregister_scalable_target", {}, TARGET)
        detach_autoscaling(client, "llm-twin")

        stubber.add_client_error(
            "register_scalable_target", "ValidationException", "Could not find endpoint llm-twin", 400
        )
        with pytest.raises(TwinError, match=r"Could not find endpoint llm-twin\. Deploy first"):
            attach_autoscaling(client, config)
