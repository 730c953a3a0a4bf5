"""moto's AWS server on 127.0.0.1, started once for the AWS adapter tests (tests/support/aws_standin.py)."""

from collections.abc import Iterator

import pytest

from tests.support.aws import moto_account
from tests.support.aws_standin import moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_account(moto_endpoint: str) -> Iterator[str]:
    """Every boto3 client the test builds reaches moto, in an empty account of the test's own; its id."""
    with moto_account(moto_endpoint) as account:
        yield account
