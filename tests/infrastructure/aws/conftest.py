"""The Stubber-answered `sagemaker` client the deployment tests share."""

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.support.aws import stubbed_client


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    with stubbed_client("sagemaker", monkeypatch) as pair:
        yield pair
