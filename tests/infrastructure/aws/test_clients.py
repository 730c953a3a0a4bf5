"""aws_client: the region, the keys Settings holds (else boto's default chain) and botocore options."""

import re
from typing import Any

import boto3
import pytest
from botocore.config import Config

from llm_engineering.infrastructure.aws.clients import aws_client
from llm_engineering.infrastructure.settings import Settings


class Signed(Exception):
    """Raised in place of sending a request, carrying the Authorization header it was signed with."""


@pytest.fixture(autouse=True)
def default_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto's default chain finds these keys: no profile, nothing from the user's own environment."""
    for name in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "CHAINKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the keys an earlier test's chain found


def settings(**values: object) -> Settings:
    return Settings.model_validate({"_env_file": None, **values})


def signing_key(client: Any) -> str:
    """The access key id in a signed `list_buckets` request, stopped before it leaves the process."""

    def stop(request: Any, **_: Any) -> None:
        raise Signed(request.headers["Authorization"])

    client.meta.events.register("before-send", stop)
    with pytest.raises(Signed) as signed:
        client.list_buckets()
    header = signed.value.args[0]
    found = re.search(r"Credential=([^/]+)/", header.decode() if isinstance(header, bytes) else header)
    assert found is not None, header
    return found.group(1)


def test_the_keys_in_settings_sign_the_requests() -> None:
    client = aws_client(settings(aws_access_key="AKIAEXAMPLEKEY", aws_secret_key="example-secret"), "s3")
    assert signing_key(client) == "AKIAEXAMPLEKEY"


def test_without_keys_boto_default_chain_signs() -> None:
    client = aws_client(settings(aws_region="eu-west-3"), "s3")
    assert client.meta.region_name == "eu-west-3"
    assert signing_key(client) == "CHAINKEY"


def test_botocore_options_reach_the_client() -> None:
    retries = {"total_max_attempts": 3, "mode": "adaptive"}
    client = aws_client(settings(), "sagemaker-runtime", Config(read_timeout=7, retries=retries))
    assert client.meta.config.read_timeout == 7
    assert client.meta.config.retries["mode"] == "adaptive"
