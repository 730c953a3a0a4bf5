"""What one release's endpoint is built from: the deployment config, the release, the TGI image and
environment, and the create_model and create_endpoint_config requests.

`deploy` and `autoscaling` import from here, never the other way.
"""

from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.dlc import dlc_account

# TGI 3.3.6 on PyTorch 2.7, CUDA 12.4: the last TGI release published as a SageMaker DLC.
TGI_IMAGE_TAG = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
VARIANT = "AllTraffic"
MODEL_MOUNT = "/opt/ml/model"
NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
VERSION_FORMAT = "%Y%m%d-%H%M%S"  # 15 characters; with the hyphen, endpoint names keep 47 of SageMaker's 63
WAIT_POLL_S = 30
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+$"


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


def tgi_image(region: str, tag: str = TGI_IMAGE_TAG) -> str:
    """The Hugging Face TGI inference DLC in `region`'s registry."""
    account = dlc_account(region)
    if account is None:
        raise TwinError(
            f"No known TGI image registry for region {region!r}; set AWS_REGION to a region with Hugging "
            "Face Deep Learning Containers (e.g. eu-central-1), or set image_uri in DeployConfig."
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:{tag}"


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
