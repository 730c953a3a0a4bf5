"""Serve the production twin on a SageMaker real-time endpoint (Hugging Face TGI), scale it, delete it.

The endpoint name comes from SAGEMAKER_ENDPOINT_NAME (default `llm-twin`), so the `sagemaker`
LLM backend calls what `deploy create` made. boto3 and ZenML are imported inside the commands.
"""

import re
import tempfile
from pathlib import Path
from typing import Any

import click

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.sagemaker_deploy import (
    DeployConfig,
    ModelRelease,
    deploy_endpoint,
    model_key,
    package_model,
    release_version,
    upload_model,
)
from llm_engineering.infrastructure.sagemaker_deploy_autoscaling import (
    attach_autoscaling,
    delete_endpoint,
    detach_autoscaling,
)
from llm_engineering.infrastructure.sagemaker_training import ROLE_ARN
from llm_engineering.infrastructure.settings import Settings
from tools.reporting import reported


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client in AWS_REGION, with AWS_ACCESS_KEY/AWS_SECRET_KEY or else boto's credential chain."""
    import boto3

    key, secret = settings.aws_access_key, settings.aws_secret_key
    if (key is None) != (secret is None):
        raise TwinError("Set both AWS_ACCESS_KEY and AWS_SECRET_KEY, or neither (boto's own chain then).")
    keys = {}
    if key is not None and secret is not None:
        keys = {
            "aws_access_key_id": key.get_secret_value(),
            "aws_secret_access_key": secret.get_secret_value(),
        }
    return boto3.client(service, region_name=settings.aws_region, **keys)


def required_aws_settings(settings: Settings) -> tuple[str, str]:
    """The execution role ARN and the bucket name a deployment needs; refuses unset or malformed ones."""
    role, bucket = (settings.aws_arn_role or "").strip(), (settings.aws_s3_bucket or "").strip()
    missing = [name for name, value in (("AWS_ARN_ROLE", role), ("AWS_S3_BUCKET", bucket)) if not value]
    if missing:
        raise TwinError(
            f"Deploying needs {' and '.join(missing)}: the IAM role SageMaker runs the endpoint as "
            "and the S3 bucket for the model archive; set them in .env."
        )
    if not re.fullmatch(ROLE_ARN, role):
        raise TwinError(
            f"AWS_ARN_ROLE={role!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)."
        )
    return role, bucket.removeprefix("s3://").split("/", 1)[0]


def deploy_config(settings: Settings, overrides: dict[str, Any]) -> DeployConfig:
    """The defaults, the endpoint named in settings, then the command's options that were given."""
    given = {name: value for name, value in overrides.items() if value is not None}
    if settings.sagemaker_endpoint_name:
        given.setdefault("endpoint_name", settings.sagemaker_endpoint_name)
    try:
        return DeployConfig(**given)
    except ValueError as error:
        raise TwinError(f"Invalid deployment settings: {error}") from error


def production_model_dir() -> Path:
    """The merged model folder of the registry's production version of the twin."""
    from tools import registry

    version = registry.production_version()
    if version is None:
        raise TwinError(
            f"No version of {registry.MODEL_NAME} is in production: run `poe run-evaluation-pipeline` (it "
            "promotes a better model) or `poe promote-model VERSION --stage production`, or pass --model-dir."
        )
    model_dir = registry.model_dir_of(version)
    if model_dir is None:
        raise TwinError(
            f"Version {version.number} of {registry.MODEL_NAME} has no logged model_dir; pass --model-dir."
        )
    return model_dir


@click.group("deploy")
def deploy() -> None:
    """Serve the production twin on a SageMaker endpoint (TGI), autoscale it, or delete it."""


def default_of(field: str) -> str:
    """`[default: …]` for option help, read from DeployConfig so the two cannot disagree."""
    value = DeployConfig.model_fields[field].default
    return f"[default: {value:g}]" if isinstance(value, float) else f"[default: {value}]"


@deploy.command("create")
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Merged Hugging Face model folder; default: the registry's production version.",
)
@click.option("--instance-type", default=None, help=f"SageMaker instance type {default_of('instance_type')}.")
@click.option("--no-wait", is_flag=True, help="Return once SageMaker accepted the request.")
def create_command(model_dir: Path | None, instance_type: str | None, no_wait: bool) -> None:
    """Package, upload and serve the model; an existing endpoint is switched to it in place."""
    settings = get_settings()
    with reported():
        role, bucket = required_aws_settings(settings)
        config = deploy_config(settings, {"instance_type": instance_type})
        folder = model_dir or production_model_dir()
        version = release_version()
        with tempfile.TemporaryDirectory(prefix="twin-deploy-") as scratch:
            archive = package_model(folder, Path(scratch) / "model.tar.gz")
            url = upload_model(aws_client(settings, "s3"), archive, bucket, model_key(config, version))
        release = ModelRelease(model_data_url=url, role_arn=role, version=version)
        done = deploy_endpoint(aws_client(settings, "sagemaker"), config, release, wait=not no_wait)
    action = "updated to" if done.updated else "created with"
    click.echo(f"Endpoint {done.endpoint_name} {action} {done.endpoint_config_name}: {done.status}.")


@deploy.command("delete")
def delete_command() -> None:
    """Delete the endpoint, its configs and its models; without an endpoint, only leftovers go."""
    settings = get_settings()
    with reported():
        name = deploy_config(settings, {}).endpoint_name
        deletion = delete_endpoint(aws_client(settings, "sagemaker"), name)
    if not (deletion.endpoint or deletion.endpoint_configs or deletion.models):
        click.echo(f"No endpoint {name!r}, config or model of it in {settings.aws_region}; nothing deleted.")
        return
    click.echo(
        f"Deleted endpoint {deletion.endpoint or '(none)'}, configs {', '.join(deletion.endpoint_configs)} "
        f"and models {', '.join(deletion.models)}."
    )


@deploy.command("autoscale")
@click.option(
    "--min", "min_capacity", type=int, default=None, help=f"Fewest instances {default_of('min_capacity')}."
)
@click.option(
    "--max", "max_capacity", type=int, default=None, help=f"Most instances {default_of('max_capacity')}."
)
@click.option(
    "--target",
    type=float,
    default=None,
    help=f"Invocations per instance per minute to aim for {default_of('target_invocations_per_instance')}.",
)
@click.option("--off", is_flag=True, help="Detach autoscaling (needed before changing the instance type).")
def autoscale_command(
    min_capacity: int | None, max_capacity: int | None, target: float | None, off: bool
) -> None:
    """Scale the endpoint's instance count on its invocations per instance."""
    settings = get_settings()
    overrides = {
        "min_capacity": min_capacity,
        "max_capacity": max_capacity,
        "target_invocations_per_instance": target,
    }
    with reported():
        config = deploy_config(settings, overrides)
        client = aws_client(settings, "application-autoscaling")
        if off:
            detach_autoscaling(client, config.endpoint_name)
            click.echo(f"Endpoint {config.endpoint_name} no longer autoscales.")
            return
        attach_autoscaling(client, config)
    click.echo(
        f"Endpoint {config.endpoint_name} scales between {config.min_capacity} and {config.max_capacity} "
        f"instances, aiming at {config.target_invocations_per_instance:g} invocations per instance a minute."
    )
