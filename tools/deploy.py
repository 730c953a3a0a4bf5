"""Serve the production twin on a SageMaker real-time endpoint (Hugging Face TGI), scale it, delete it.

The endpoint name comes from SAGEMAKER_ENDPOINT_NAME (default `llm-twin`), so the `sagemaker`
LLM backend calls what `deploy create` made. boto3 and ZenML are imported inside the commands,
and every boto3 client comes from `aws_client`.
"""

import re
import tempfile
from pathlib import Path
from typing import Any

import click

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.registry import TWIN_MODEL_NAME
from llm_engineering.infrastructure.aws.autoscaling import attach_autoscaling, detach_autoscaling
from llm_engineering.infrastructure.aws.clients import aws_client
from llm_engineering.infrastructure.aws.deletion import delete_endpoint
from llm_engineering.infrastructure.aws.deploy import (
    deploy_endpoint,
    deployable_endpoint,
    model_key,
    package_model,
    release_version,
    upload_model,
)
from llm_engineering.infrastructure.aws.endpoint_config import ROLE_ARN, DeployConfig, ModelRelease
from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.settings import Settings
from tools.reporting import reported


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


def served_model_dir() -> Path:
    """The folder of the model the serving policy picks (SERVICE_MODEL_DIR, else production); deploying
    the LLM_BACKEND fallback makes no sense, so without either it is an error that says what to do."""
    from llm_engineering.infrastructure.container.models import served_model

    served = served_model()
    if served.model_dir is None:
        raise TwinError(
            f"No version of {TWIN_MODEL_NAME} is in production: run `poe run-evaluation-pipeline` (it "
            "promotes a better model) or `poe promote-model VERSION --stage production`, or pass --model-dir."
        )
    return served.model_dir


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
        folder = model_dir or served_model_dir()
        # Refused before the archive (gigabytes) is built and uploaded, when the endpoint cannot take it.
        deployable_endpoint(aws_client(settings, "sagemaker"), config.endpoint_name)
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
