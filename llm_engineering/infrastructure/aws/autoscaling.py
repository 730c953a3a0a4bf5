"""Autoscaling a deployed twin endpoint's instance count, through boto3's `application-autoscaling` client.

A deleted endpoint takes its scalable target with it (Application Auto Scaling deregisters it).
"""

from typing import Any

from loguru import logger

from llm_engineering.infrastructure.aws.endpoint_config import VARIANT, DeployConfig
from llm_engineering.infrastructure.aws.errors import aws_errors

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"


def scalable_target(endpoint_name: str) -> dict[str, str]:
    """How Application Auto Scaling names the endpoint's instance count."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint_name}/variant/{VARIANT}",
        "ScalableDimension": SCALABLE_DIMENSION,
    }


def scaling_policy(config: DeployConfig) -> dict[str, Any]:
    """A target-tracking policy on invocations per instance: scale out fast, scale in slowly."""
    return {
        "PolicyName": f"{config.endpoint_name}-invocations-per-instance",
        **scalable_target(config.endpoint_name),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": config.target_invocations_per_instance,
            "PredefinedMetricSpecification": {"PredefinedMetricType": SCALING_METRIC},
            "ScaleInCooldown": config.scale_in_cooldown_s,
            "ScaleOutCooldown": config.scale_out_cooldown_s,
        },
    }


def attach_autoscaling(client: Any, config: DeployConfig) -> str:
    """Register the endpoint's instance count with its bounds and put the policy; returns the policy ARN."""
    hint = (
        "Deploy first (`poe deploy-inference-endpoint`) and wait until the endpoint is InService; the "
        "credentials need application-autoscaling and iam:CreateServiceLinkedRole permissions."
    )
    target = scalable_target(config.endpoint_name)
    with aws_errors(f"Attaching autoscaling to endpoint {config.endpoint_name!r}", hint):
        client.register_scalable_target(
            **target, MinCapacity=config.min_capacity, MaxCapacity=config.max_capacity
        )
        arn: str = client.put_scaling_policy(**scaling_policy(config))["PolicyARN"]
    logger.info(
        f"Endpoint {config.endpoint_name} scales between {config.min_capacity} and {config.max_capacity} "
        f"instances at {config.target_invocations_per_instance} invocations per instance per minute"
    )
    return arn


def detach_autoscaling(client: Any, endpoint_name: str) -> None:
    """Deregister the endpoint's instance count, which also deletes its policies (needed before an
    update that changes the instance type)."""
    hint = "`poe autoscale-inference-endpoint` attaches it; nothing to detach otherwise."
    with aws_errors(f"Detaching autoscaling from endpoint {endpoint_name!r}", hint):
        client.deregister_scalable_target(**scalable_target(endpoint_name))
    logger.info(f"Endpoint {endpoint_name} no longer autoscales")
