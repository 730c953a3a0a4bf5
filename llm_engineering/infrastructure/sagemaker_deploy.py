"""Serving the twin on a SageMaker real-time endpoint that runs Hugging Face TGI, through boto3 clients.

SageMaker extracts the model archive into /opt/ml/model and TGI loads it from there (HF_MODEL_ID),
so the merged model never goes through the Hub. Each deployment creates a model and an endpoint
config named `<endpoint>-<version>`; an existing endpoint is switched to the new config in place.
Scaling and deleting a deployed endpoint live in `sagemaker_deploy_autoscaling`.
"""

import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.sagemaker_training import (
    DLC_ACCOUNT,
    DLC_ACCOUNTS_BY_REGION,
    DLC_DEFAULT_ACCOUNT_REGIONS,
)

# TGI 3.3.6 on PyTorch 2.7, CUDA 12.4: the last TGI release published as a SageMaker DLC.
TGI_IMAGE_TAG = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
VARIANT = "AllTraffic"
MODEL_MOUNT = "/opt/ml/model"
NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
VERSION_FORMAT = "%Y%m%d-%H%M%S"  # 15 characters; with the hyphen, endpoint names keep 47 of SageMaker's 63
WAIT_POLL_S = 30


class DeployConfig(BaseModel):
    """Where and how the twin is served: instances, TGI image and limits, autoscaling."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_name: str = Field("llm-twin", pattern=NAME, max_length=47, description="SageMaker endpoint.")
    instance_type: str = Field("ml.g5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$", description="GPU.")
    initial_instance_count: int = Field(1, ge=1, description="Instances the endpoint starts with.")
    image_uri: str | None = Field(None, description="None: the TGI DLC tagged tgi_image_tag in the region.")
    tgi_image_tag: str = Field(TGI_IMAGE_TAG, description="Tag of huggingface-pytorch-tgi-inference.")
    max_input_tokens: int = Field(2048, gt=0, description="Longest prompt TGI accepts (MAX_INPUT_TOKENS).")
    max_total_tokens: int = Field(4096, gt=0, description="Prompt plus completion limit (MAX_TOTAL_TOKENS).")
    max_batch_prefill_tokens: int = Field(4096, gt=0, description="Tokens prefilled in one batch.")
    num_gpus: int = Field(1, ge=1, description="GPUs TGI shards the model over (SM_NUM_GPUS).")
    health_check_timeout_s: int = Field(900, ge=60, le=3600, description="Time for TGI to load the model.")
    wait_timeout_s: int = Field(3600, ge=WAIT_POLL_S, description="How long to wait for InService.")
    s3_prefix: str = Field("deployments", pattern=r"^[\w.-]+(/[\w.-]+)*$", description="S3 key prefix.")
    min_capacity: int = Field(1, ge=1, description="Fewest instances autoscaling keeps.")
    max_capacity: int = Field(2, ge=1, description="Most instances autoscaling starts.")
    target_invocations_per_instance: float = Field(
        30.0, gt=0, description="Requests per instance per minute that autoscaling aims for."
    )
    scale_in_cooldown_s: int = Field(300, ge=0, description="Wait after a scale-in before the next one.")
    scale_out_cooldown_s: int = Field(60, ge=0, description="Wait after a scale-out before the next one.")

    @model_validator(mode="after")
    def check_limits(self) -> Self:
        """TGI refuses to start with these inconsistent; fail here instead of after a 10-minute boot."""
        if self.max_total_tokens <= self.max_input_tokens:
            raise ValueError("max_total_tokens must be larger than max_input_tokens")
        if self.max_batch_prefill_tokens < self.max_input_tokens:
            raise ValueError("max_batch_prefill_tokens must be at least max_input_tokens")
        if self.min_capacity > self.max_capacity:
            raise ValueError("min_capacity must not exceed max_capacity")
        return self


@dataclass(frozen=True)
class ModelRelease:
    """What one deployment serves: the uploaded archive, the role SageMaker reads it as, a version."""

    model_data_url: str
    role_arn: str
    version: str


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


def tgi_image(region: str, tag: str = TGI_IMAGE_TAG) -> str:
    """The Hugging Face TGI inference DLC in `region`'s registry."""
    account = DLC_ACCOUNTS_BY_REGION.get(region) or (
        DLC_ACCOUNT if region in DLC_DEFAULT_ACCOUNT_REGIONS else None
    )
    if account is None:
        raise TwinError(f"No known TGI image registry for region {region!r}; set image_uri in the config.")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:{tag}"


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
        raise TwinError(f"{action}: AWS could not be called ({error}); check the credentials.") from error


def find(describe: Callable[[], dict[str, Any]], action: str) -> dict[str, Any] | None:
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


def tgi_environment(config: DeployConfig) -> dict[str, str]:
    """The container's environment: TGI's limits, and the model read from the extracted archive."""
    return {
        "HF_MODEL_ID": MODEL_MOUNT,
        "SM_NUM_GPUS": str(config.num_gpus),
        "MAX_INPUT_TOKENS": str(config.max_input_tokens),
        "MAX_TOTAL_TOKENS": str(config.max_total_tokens),
        "MAX_BATCH_PREFILL_TOKENS": str(config.max_batch_prefill_tokens),
        "HF_HUB_OFFLINE": "1",  # everything is in the archive; the endpoint may have no internet
    }


def endpoint_requests(config: DeployConfig, release: ModelRelease, region: str) -> dict[str, dict[str, Any]]:
    """The keyword arguments of create_model and create_endpoint_config for one release."""
    name = f"{config.endpoint_name}-{release.version}"
    container = {
        "Image": config.image_uri or tgi_image(region, config.tgi_image_tag),
        "ModelDataUrl": release.model_data_url,
        "Environment": tgi_environment(config),
    }
    variant = {
        "VariantName": VARIANT,
        "ModelName": name,
        "InstanceType": config.instance_type,
        "InitialInstanceCount": config.initial_instance_count,
        "ContainerStartupHealthCheckTimeoutInSeconds": config.health_check_timeout_s,
    }
    return {
        "model": {"ModelName": name, "ExecutionRoleArn": release.role_arn, "PrimaryContainer": container},
        "endpoint_config": {"EndpointConfigName": name, "ProductionVariants": [variant]},
    }


def deploy_endpoint(
    client: Any, config: DeployConfig, release: ModelRelease, wait: bool = True
) -> Deployment:
    """Create the endpoint, or switch an existing one to this release; optionally wait until it serves."""
    name = config.endpoint_name
    current = find(lambda: client.describe_endpoint(EndpointName=name), f"Describing endpoint {name!r}")
    if current is not None and current["EndpointStatus"] != "InService":
        reason = current.get("FailureReason", "")
        raise TwinError(
            f"Endpoint {name!r} is {current['EndpointStatus']}{f' ({reason})' if reason else ''}; wait until "
            "it is InService, or delete it with `poe delete-inference-endpoint` and deploy again."
        )
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
        (client.update_endpoint if current else client.create_endpoint)(**target)
    logger.info(f"{'Updating' if current else 'Creating'} endpoint {name} with {config_name}")
    status = "Updating" if current else "Creating"
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
