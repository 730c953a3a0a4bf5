"""A real boto3 client answered by botocore's Stubber, with dummy credentials and no profile."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber


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
