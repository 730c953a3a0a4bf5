"""Deleting an endpoint with its configs and models, sent to a real boto3 client that a Stubber answers."""

from typing import Any

from botocore.stub import Stubber

from llm_engineering.infrastructure.aws.deletion import Deletion, delete_endpoint
from tests.support.aws import ACCOUNT, NEW, OLD, WHEN, endpoint, not_found


def listing(kind: str, names: list[str]) -> dict[str, Any]:
    """A list_models or list_endpoint_configs page."""
    key, field = ("Models", "ModelName") if kind == "model" else ("EndpointConfigs", "EndpointConfigName")
    arn = "ModelArn" if kind == "model" else "EndpointConfigArn"
    return {key: [{field: name, arn: f"{ACCOUNT}:{kind}/{name}", "CreationTime": WHEN} for name in names]}


def test_delete_removes_the_endpoint_its_config_models_and_older_versions(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    stubber.add_response("describe_endpoint", endpoint("InService", NEW), {"EndpointName": "llm-twin"})
    described = {
        "EndpointConfigName": NEW,
        "EndpointConfigArn": f"{ACCOUNT}:endpoint-config/{NEW}",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": NEW}],
        "CreationTime": WHEN,
    }
    stubber.add_response("describe_endpoint_config", described, {"EndpointConfigName": NEW})
    # A name search also finds another endpoint's versions; those stay.
    configs = [NEW, OLD, "llm-twin-staging-20250301-142500"]
    stubber.add_response(
        "list_endpoint_configs", listing("endpoint-config", configs), {"NameContains": "llm-twin"}
    )
    models = [OLD, "llm-twin-staging-20250301-142500"]
    stubber.add_response("list_models", listing("model", models), {"NameContains": "llm-twin"})
    stubber.add_response("delete_endpoint", {}, {"EndpointName": "llm-twin"})
    for name in (OLD, NEW):  # sorted, the oldest version first
        stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": name})
    for name in (OLD, NEW):
        stubber.add_response("delete_model", {}, {"ModelName": name})

    assert delete_endpoint(client, "llm-twin") == Deletion("llm-twin", (OLD, NEW), (OLD, NEW))


def test_deleting_a_missing_endpoint_removes_only_leftovers(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    for leftovers in ([OLD], []):
        not_found(stubber, "describe_endpoint", "endpoint", {"EndpointName": "llm-twin"})
        stubber.add_response(
            "list_endpoint_configs", listing("endpoint-config", leftovers), {"NameContains": "llm-twin"}
        )
        stubber.add_response("list_models", listing("model", []), {"NameContains": "llm-twin"})
        for name in leftovers:
            stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": name})

        assert delete_endpoint(client, "llm-twin") == Deletion(None, tuple(leftovers), ())
