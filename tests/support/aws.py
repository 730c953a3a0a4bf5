"""A real boto3 client answered by botocore's Stubber, with dummy credentials and no profile, and
the SageMaker answers the deployment tests share for the default endpoint `llm-twin`."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

ACCOUNT = "arn:aws:sagemaker:eu-central-1:123456789012"
NEW = "llm-twin-20250301-142500"
OLD = "llm-twin-20250201-090000"
WHEN = datetime(2025, 3, 1, 14, 25, tzinfo=UTC)


@contextmanager
def stubbed_client(service: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    """The client and its stubber; every queued response must have been used when the block ends."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client(service, region_name="eu-central-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def endpoint(status: str, config_name: str = OLD, reason: str | None = None) -> dict[str, Any]:
    """A describe_endpoint answer."""
    described = {
        "EndpointName": "llm-twin",
        "EndpointArn": f"{ACCOUNT}:endpoint/llm-twin",
        "EndpointConfigName": config_name,
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
    }
    return described | ({"FailureReason": reason} if reason else {})


def not_found(stubber: Stubber, operation: str, what: str, params: dict[str, str]) -> None:
    """Queue the error SageMaker answers for a missing endpoint or config."""
    message = f'Could not find {what} "{ACCOUNT}:{what.replace(" ", "-")}/llm-twin".'
    stubber.add_client_error(operation, "ValidationException", message, 400, expected_params=params)
