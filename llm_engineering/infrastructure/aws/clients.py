"""The one place boto3 clients are built: in AWS_REGION, with the keys from Settings when they are set."""

from typing import TYPE_CHECKING, Any

from llm_engineering.infrastructure.settings import Settings

if TYPE_CHECKING:
    from botocore.config import Config


def aws_client(settings: Settings, service: str, config: "Config | None" = None) -> Any:
    """A boto3 client for `service`, with botocore's `config` (timeouts, retries) when given.

    Settings guarantees both AWS keys or neither; with neither, boto's default credential chain
    (AWS_PROFILE, ~/.aws, an instance or task role) applies, on purpose.
    """
    import boto3  # imported here so that commands and services that never call AWS do not load it

    keys = {}
    if settings.aws_access_key is not None and settings.aws_secret_key is not None:
        keys = {
            "aws_access_key_id": settings.aws_access_key.get_secret_value(),
            "aws_secret_access_key": settings.aws_secret_key.get_secret_value(),
        }
    return boto3.client(service, region_name=settings.aws_region, config=config, **keys)
