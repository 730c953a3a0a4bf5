"""Serving the twin on a SageMaker real-time endpoint that runs Hugging Face TGI, through boto3 clients.

SageMaker extracts the model archive into /opt/ml/model and TGI loads it from there (HF_MODEL_ID),
so the merged model never goes through the Hub. Each deployment creates a model and an endpoint
config named `<endpoint>-<version>`; an existing endpoint is switched to the new config in place.
What the endpoint is built from (DeployConfig, ModelRelease, the requests) lives in `endpoint_config`;
scaling a deployed endpoint lives in `autoscaling`, deleting it in `deletion`.
"""

import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import WaiterError
from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.endpoint_config import (
    VERSION_FORMAT,
    WAIT_POLL_S,
    DeployConfig,
    ModelRelease,
    endpoint_requests,
)
from llm_engineering.infrastructure.aws.errors import aws_errors, describe_if_present


@dataclass(frozen=True)
class Deployment:
    """The resources a deployment created and the endpoint's status when the call returned."""

    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    updated: bool
    status: str


def release_version(moment: datetime | None = None) -> str:
    """A version such as `20250301-142500` (UTC); SageMaker refuses reused model and config names."""
    return f"{moment or datetime.now(UTC):{VERSION_FORMAT}}"


def check_model_dir(model_dir: Path) -> None:
    """Refuse a folder TGI could not serve: it needs the config, a tokenizer and safetensors weights."""
    if not model_dir.is_dir():
        raise TwinError(f"{model_dir} is not a folder; pass a model saved with save_pretrained.")
    wanted = {
        "config.json": (model_dir / "config.json").is_file(),
        "tokenizer.json or tokenizer_config.json": any(model_dir.glob("tokenizer*.json")),
        "*.safetensors weights": any(model_dir.glob("*.safetensors")),
    }
    missing = [name for name, present in wanted.items() if not present]
    if missing:
        raise TwinError(
            f"{model_dir} is not a Hugging Face model folder (no {', '.join(missing)}); pass the merged "
            "model the training pipeline saves (its model_dir), not an adapter or a checkpoint."
        )


def package_model(model_dir: Path, archive: Path) -> Path:
    """Write model.tar.gz with the model's files at its root, as SageMaker extracts it into /opt/ml/model."""
    check_model_dir(model_dir)
    archive.parent.mkdir(parents=True, exist_ok=True)
    skipped = archive.resolve()
    # Level 1: safetensors barely compress, and level 9 would spend minutes per gigabyte for nothing.
    # dereference: Hub snapshots are symlinks into a blob cache the archive would not contain.
    with tarfile.open(archive, "w:gz", compresslevel=1, dereference=True) as tar:
        for path in sorted(model_dir.rglob("*")):
            relative = path.relative_to(model_dir)
            hidden = any(part.startswith(".") for part in relative.parts)  # download caches, .git
            if path.is_file() and not hidden and path.resolve() != skipped:
                tar.add(path, arcname=relative.as_posix(), recursive=False)
    return archive


def model_key(config: DeployConfig, version: str) -> str:
    """The S3 key of one release's archive, e.g. `deployments/llm-twin/20250301-142500/model.tar.gz`."""
    return f"{config.s3_prefix}/{config.endpoint_name}/{version}/model.tar.gz"


def upload_model(s3_client: Any, archive: Path, bucket: str, key: str) -> str:
    """Upload the archive (multipart when large) and return its s3:// URI."""
    from boto3.exceptions import S3UploadFailedError

    url = f"s3://{bucket}/{key}"
    hint = "Check that AWS_S3_BUCKET exists in AWS_REGION and that the credentials may write to it."
    try:
        with aws_errors(f"Uploading {archive} to {url}", hint):
            s3_client.upload_file(str(archive), bucket, key)
    except S3UploadFailedError as error:
        raise TwinError(f"Uploading {archive} to {url} failed ({error}). {hint}") from error
    logger.info(f"Uploaded {archive} to {url}")
    return url


def deployable_endpoint(client: Any, name: str) -> dict[str, Any] | None:
    """The endpoint `name` as SageMaker describes it, None when there is none; refused unless it is InService,
    the only state a new release can be switched in from. Asked before a release is uploaded, and again
    before it is deployed."""
    current = describe_if_present(
        lambda: client.describe_endpoint(EndpointName=name), f"Describing endpoint {name!r}"
    )
    if current is not None and current["EndpointStatus"] != "InService":
        reason = current.get("FailureReason", "")
        raise TwinError(
            f"Endpoint {name!r} is {current['EndpointStatus']}{f' ({reason})' if reason else ''}; wait until "
            "it is InService, or delete it with `poe delete-inference-endpoint` and deploy again."
        )
    return current


def deploy_endpoint(
    client: Any, config: DeployConfig, release: ModelRelease, wait: bool = True
) -> Deployment:
    """Create the endpoint, or switch an existing one to this release; optionally wait until it serves."""
    name = config.endpoint_name
    current = deployable_endpoint(client, name)
    requests = endpoint_requests(config, release, client.meta.region_name)
    config_name = requests["endpoint_config"]["EndpointConfigName"]
    target = {"EndpointName": name, "EndpointConfigName": config_name}
    hint = (
        f"Check that {release.role_arn} trusts sagemaker.amazonaws.com and can read the archive, that "
        f"the account's quota for {config.instance_type} endpoint usage is above zero (Service Quotas), "
        "and, for an update, that autoscaling is detached when the instance type changes."
    )
    with aws_errors(f"Deploying {config_name} to endpoint {name!r}", hint):
        client.create_model(**requests["model"])
        client.create_endpoint_config(**requests["endpoint_config"])
        if current:
            # Keep the live instance count (autoscaling's) and weights; without this, every release would
            # reset an autoscaled endpoint to the config's initial count.
            client.update_endpoint(**target, RetainAllVariantProperties=True)
        else:
            client.create_endpoint(**target)
    status = "Updating" if current else "Creating"
    logger.info(f"{status} endpoint {name} with {config_name}")
    if wait:
        status = wait_in_service(client, config, config_name)
    return Deployment(name, config_name, config_name, updated=current is not None, status=status)


def wait_in_service(client: Any, config: DeployConfig, config_name: str) -> str:
    """Block until the endpoint serves `config_name`; a failed or rolled-back deployment raises."""
    name = config.endpoint_name
    attempts = {"Delay": WAIT_POLL_S, "MaxAttempts": config.wait_timeout_s // WAIT_POLL_S}
    try:
        client.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=attempts)
    except WaiterError as error:
        last = error.last_response or {}
        reason = last.get("FailureReason") or last.get("Error", {}).get("Message") or error.kwargs["reason"]
        raise TwinError(
            f"Endpoint {name!r} did not reach InService: {reason}. "
            f"Its CloudWatch log group /aws/sagemaker/Endpoints/{name} shows why TGI did not start."
        ) from error
    # A failed update rolls back to the previous config and still ends InService.
    with aws_errors(f"Describing endpoint {name!r}", "Check AWS_REGION and the credentials."):
        served = client.describe_endpoint(EndpointName=name)
    if served.get("EndpointConfigName") != config_name:
        raise TwinError(
            f"Endpoint {name!r} rolled back to {served.get('EndpointConfigName')}: "
            f"{served.get('FailureReason', 'no reason given')}. See /aws/sagemaker/Endpoints/{name}."
        )
    logger.info(f"Endpoint {name} is InService with {config_name}")
    return str(served["EndpointStatus"])
