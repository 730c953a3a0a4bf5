"""What the AWS adapter tests share: a clean AWS account on moto's server for each test, and, for the
few situations moto cannot produce, a real boto3 client answered by botocore's Stubber."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.support.aws_standin import REGION, aws_environment

NEW = "llm-twin-20250301-142500"
OLD = "llm-twin-20250201-090000"
WHEN = datetime(2025, 3, 1, 14, 25, tzinfo=UTC)
# Well away from moto's default account (123456789012), which tests/tools' stand-ins use.
_accounts = itertools.count(200_000_000_001)


@contextmanager
def moto_account(endpoint: str) -> Iterator[str]:
    """boto3 pointed at moto's server at `endpoint`, in an AWS account no other test uses; its id.

    moto keeps its state per process (every moto server in it shares it) and per account, so a fresh
    account gives each test an empty AWS without resetting what other modules' stand-ins hold.
    """
    account = f"{next(_accounts):012d}"
    with aws_environment(endpoint), pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_ACCOUNT_ID", account)  # moto reads it on every request
        yield account


def create_bucket(account: str) -> str:
    """A bucket of the test's own; S3 bucket names are global across moto's accounts, as on AWS."""
    bucket = f"twin-artifacts-{account}"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return bucket


@contextmanager
def stubbed_client(service: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    """The client and its stubber; every queued response must have been used when the block ends."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client(service, region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
