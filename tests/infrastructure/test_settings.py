"""Settings refuse half-set AWS credentials, and a refusal never prints the values it read."""

import pytest
from pydantic import ValidationError

from llm_engineering.infrastructure.settings import Settings


@pytest.fixture(autouse=True)
def no_aws_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def settings(**values: object) -> Settings:
    """Settings from `values` and the environment, without a `.env` file."""
    return Settings.model_validate({"_env_file": None, **values})


@pytest.mark.parametrize(
    ("values", "given"),
    [
        ({"aws_access_key": "AKIAEXAMPLEKEY"}, "AWS_ACCESS_KEY is set but AWS_SECRET_KEY is not"),
        ({"aws_secret_key": "example-secret"}, "AWS_SECRET_KEY is set but AWS_ACCESS_KEY is not"),
        ({"aws_access_key": "AKIAEXAMPLEKEY", "aws_secret_key": " "}, "AWS_ACCESS_KEY is set but"),
    ],
)
def test_one_aws_key_alone_is_refused_naming_both(values: dict[str, str], given: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(**values)
    message = str(raised.value)
    assert given in message
    assert "set both AWS_ACCESS_KEY and AWS_SECRET_KEY, or neither" in message
    assert "default credential chain" in message
    assert "AKIAEXAMPLEKEY" not in message and "example-secret" not in message


def test_one_key_from_the_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_KEY", "example-secret")
    with pytest.raises(ValidationError, match="set both AWS_ACCESS_KEY and AWS_SECRET_KEY"):
        settings()


def test_both_keys_are_kept() -> None:
    loaded = settings(aws_access_key="AKIAEXAMPLEKEY", aws_secret_key="example-secret")
    assert loaded.aws_access_key is not None and loaded.aws_secret_key is not None
    assert loaded.aws_access_key.get_secret_value() == "AKIAEXAMPLEKEY"
    assert loaded.aws_secret_key.get_secret_value() == "example-secret"


@pytest.mark.parametrize("blank", [{}, {"aws_access_key": "", "aws_secret_key": ""}])
def test_neither_key_leaves_both_unset_for_boto_default_chain(blank: dict[str, str]) -> None:
    loaded = settings(**blank)
    assert loaded.aws_access_key is None and loaded.aws_secret_key is None
