"""Turning refused or unreachable AWS calls into TwinErrors that say what failed and what to check."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from llm_engineering.domain.exceptions import TwinError


def failure(action: str, error: ClientError, hint: str) -> TwinError:
    """A TwinError carrying the AWS error code and message of a refused call."""
    details = error.response.get("Error", {})
    code, message = details.get("Code", "an error"), details.get("Message", str(error))
    return TwinError(f"{action} failed with {code}: {message}. {hint}")


@contextmanager
def aws_errors(action: str, hint: str) -> Iterator[None]:
    """Turn an AWS failure inside the block into a TwinError saying what failed and what to check."""
    try:
        yield
    except ClientError as error:
        raise failure(action, error, hint) from error
    except BotoCoreError as error:
        raise TwinError(
            f"{action}: AWS could not be called ({error}); check AWS_ACCESS_KEY and AWS_SECRET_KEY (or "
            "boto's credential chain), AWS_REGION and the network."
        ) from error


def describe_if_present(describe: Callable[[], dict[str, Any]], action: str) -> dict[str, Any] | None:
    """The description `describe` returns, or None when SageMaker says the resource does not exist."""
    with aws_errors(action, "Check AWS_REGION and the credentials."):
        try:
            return describe()
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code"), details.get("Message", "")
            if code == "ValidationException" and "Could not find" in message:
                return None
            raise
