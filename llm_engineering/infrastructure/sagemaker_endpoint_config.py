"""What one release's endpoint is built from: the TGI image and environment, the model and config requests."""

from typing import TYPE_CHECKING, Any

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.sagemaker_training import dlc_account

if TYPE_CHECKING:  # sagemaker_deploy imports this module at run time
    from llm_engineering.infrastructure.sagemaker_deploy import DeployConfig, ModelRelease

# TGI 3.3.6 on PyTorch 2.7, CUDA 12.4: the last TGI release published as a SageMaker DLC.
TGI_IMAGE_TAG = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
VARIANT = "AllTraffic"
MODEL_MOUNT = "/opt/ml/model"


def tgi_image(region: str, tag: str = TGI_IMAGE_TAG) -> str:
    """The Hugging Face TGI inference DLC in `region`'s registry."""
    account = dlc_account(region)
    if account is None:
        raise TwinError(
            f"No known TGI image registry for region {region!r}; set AWS_REGION to a region with Hugging "
            "Face Deep Learning Containers (e.g. eu-central-1), or set image_uri in DeployConfig."
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-tgi-inference:{tag}"


def tgi_environment(config: "DeployConfig") -> dict[str, str]:
    """The container's environment: TGI's limits, and the model read from the extracted archive."""
    return {
        "HF_MODEL_ID": MODEL_MOUNT,
        "SM_NUM_GPUS": str(config.num_gpus),
        "MAX_INPUT_TOKENS": str(config.max_input_tokens),
        "MAX_TOTAL_TOKENS": str(config.max_total_tokens),
        "MAX_BATCH_PREFILL_TOKENS": str(config.max_batch_prefill_tokens),
        "HF_HUB_OFFLINE": "1",  # everything is in the archive; the endpoint may have no internet
    }


def endpoint_requests(
    config: "DeployConfig", release: "ModelRelease", region: str
) -> dict[str, dict[str, Any]]:
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
