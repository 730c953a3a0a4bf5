"""Deleting a deployed twin endpoint with the configs and models it was built from (boto3 `sagemaker`)."""

import re
from dataclasses import dataclass
from typing import Any

from loguru import logger

from llm_engineering.infrastructure.aws.errors import aws_errors, describe_if_present


@dataclass(frozen=True)
class Deletion:
    """What delete_endpoint removed; all empty when there was nothing to remove."""

    endpoint: str | None
    endpoint_configs: tuple[str, ...]
    models: tuple[str, ...]


def versioned(endpoint_name: str) -> re.Pattern[str]:
    """Matches the model and endpoint config names deployments create for `endpoint_name`."""
    return re.compile(rf"{re.escape(endpoint_name)}-\d{{8}}-\d{{6}}")


def listed_names(client: Any, operation: str, key: str, endpoint_name: str) -> set[str]:
    """Names of `key` items that a `list_*` operation returns and that are versions of the endpoint."""
    pattern, field = versioned(endpoint_name), key[:-1] + "Name"  # "Models" -> "ModelName"
    pages = client.get_paginator(operation).paginate(NameContains=endpoint_name)
    return {item[field] for page in pages for item in page[key] if pattern.fullmatch(item[field])}


def delete_endpoint(client: Any, endpoint_name: str) -> Deletion:
    """Delete the endpoint, its config and models, and every earlier version of them.

    Idempotent: without an endpoint of that name, only leftover versions go, and an empty
    Deletion means there was nothing to delete. The current config and its models are found
    through describe_endpoint, so a config named by other tooling goes as well.
    """
    describing = f"Finding what endpoint {endpoint_name!r} uses"
    hint = "Check AWS_REGION and that the credentials may describe, list and delete SageMaker resources."
    current = describe_if_present(lambda: client.describe_endpoint(EndpointName=endpoint_name), describing)
    configs: set[str] = set()
    models: set[str] = set()
    if current is None:
        logger.info(f"No endpoint named {endpoint_name}; removing leftover configs and models only")
    elif config_name := current.get("EndpointConfigName"):
        configs.add(config_name)
        described = describe_if_present(
            lambda: client.describe_endpoint_config(EndpointConfigName=config_name), describing
        )
        models |= {variant["ModelName"] for variant in (described or {}).get("ProductionVariants", [])}
    with aws_errors(describing, hint):
        configs |= listed_names(client, "list_endpoint_configs", "EndpointConfigs", endpoint_name)
        models |= listed_names(client, "list_models", "Models", endpoint_name)
    with aws_errors(f"Deleting endpoint {endpoint_name!r}", hint):
        if current is not None:
            client.delete_endpoint(EndpointName=endpoint_name)
        for name in sorted(configs):
            client.delete_endpoint_config(EndpointConfigName=name)
        for name in sorted(models):
            client.delete_model(ModelName=name)
    deletion = Deletion(endpoint_name if current else None, tuple(sorted(configs)), tuple(sorted(models)))
    logger.info(f"Deleted {deletion}")
    return deletion
