"""Training the twin as a SageMaker training job, requested through boto3's `sagemaker` client.

The job runs in a Hugging Face PyTorch training container (DLC). SageMaker's training toolkit in it
downloads the source tarball named by the `sagemaker_submit_directory` hyperparameter into
/opt/ml/code, pip-installs the `requirements.txt` at the tarball's root (write
`requirements_for_sagemaker()` there), and runs `sagemaker_program` with the other hyperparameters
as `--name value` arguments; the training config arrives as `--training_config '<json>'`.
Datasets arrive as the channels /opt/ml/input/data/{instruct,preference}; what the program writes
to /opt/ml/model is uploaded under `output_s3_uri`.
"""

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import TwinError

# PyTorch 2.9 + Transformers 5.3, CUDA 13.0, Python 3.12 (DLC release v1.0-hf-5.3.0-pt-2.9.0-tr-gpu-py312).
# Its torch is kept (it matches the image's CUDA); the packages below are upgraded to the lock's pins.
HF_TRAINING_IMAGE_TAG = "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04"
DLC_ACCOUNT = "763104351884"
# Regions whose DLC registry is not the default account (opt-in regions have their own).
DLC_ACCOUNTS_BY_REGION = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-west-1": "204538143572",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
}
DLC_DEFAULT_ACCOUNT_REGIONS = frozenset(
    {
        *("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1"),
        *("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3"),
        *("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    }
)

SAGEMAKER_PACKAGES = ("trl", "peft", "transformers", "datasets", "accelerate", "bitsandbytes")
LOCK_FILE = Path(__file__).resolve().parents[3] / "requirements.lock"
CONFIG_HYPERPARAMETER = "training_config"
MAX_HYPERPARAMETER_CHARS = 2500  # SageMaker's limit on one hyperparameter value
CODE_DIR = "/opt/ml/code"
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+$"
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]*[a-z0-9]/?.*"


class SageMakerTrainingSpec(BaseModel):
    """Where and on what a SageMaker training job runs; the training hyperparameters travel separately."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_name_prefix: str = Field("llm-twin-training", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", max_length=40)
    role_arn: str = Field(pattern=ROLE_ARN, description="IAM role of the job: S3 access, trusts SageMaker.")
    region: str = Field("eu-central-1", description="Region of the job, the buckets and the image.")
    image_uri: str | None = Field(None, description="None: the pinned Hugging Face PyTorch training DLC.")
    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = Field(1, ge=1)
    volume_gb: int = Field(50, ge=1, description="EBS volume for the base model, datasets and checkpoints.")
    max_runtime_s: int = Field(4 * 3600, gt=0, le=28 * 24 * 3600)
    input_s3_uri: str = Field(pattern=S3_URI, description="Holds instruct/ and preference/ folders.")
    output_s3_uri: str = Field(pattern=S3_URI, description="Where /opt/ml/model goes.")
    # The training toolkit extracts the source as a gzipped tarball.
    source_s3_uri: str = Field(
        pattern=rf"{S3_URI}\.tar\.gz$", description="Source, requirements.txt at its root."
    )
    program: str = Field("tools/train_entrypoint.py", description="Script to run, relative to the tarball.")


def dlc_account(region: str) -> str | None:
    """The AWS account of the Deep Learning Containers registry in `region`; None where none is known."""
    return DLC_ACCOUNTS_BY_REGION.get(region) or (
        DLC_ACCOUNT if region in DLC_DEFAULT_ACCOUNT_REGIONS else None
    )


def default_training_image(region: str) -> str:
    """The pinned Hugging Face PyTorch training DLC in `region`'s registry."""
    account = dlc_account(region)
    if account is None:
        raise TwinError(
            f"No known Hugging Face training image registry for region {region!r}; set image_uri to a "
            "huggingface-pytorch-training image from the AWS Deep Learning Containers list."
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-training:{HF_TRAINING_IMAGE_TAG}"


def job_name(spec: SageMakerTrainingSpec, started: datetime) -> str:
    """A unique job name, e.g. `llm-twin-training-20250301-142500` (SageMaker refuses reused names)."""
    return f"{spec.job_name_prefix}-{started:%Y%m%d-%H%M%S}"


def check_hyperparameters(hyperparameters: dict[str, str]) -> None:
    """Refuse, before any call, a value longer than the 2,500 characters SageMaker takes."""
    too_long = {
        name: len(value) for name, value in hyperparameters.items() if len(value) > MAX_HYPERPARAMETER_CHARS
    }
    if too_long:
        listed = ", ".join(f"{name!r} ({length} characters)" for name, length in too_long.items())
        raise TwinError(
            f"Hyperparameter {listed} is longer than the {MAX_HYPERPARAMETER_CHARS} characters SageMaker "
            "accepts; leave default values out of the training config and put long texts (prompts, "
            "templates) in files of the source tarball."
        )


def training_hyperparameters(spec: SageMakerTrainingSpec, config_json: str) -> dict[str, str]:
    """The job's hyperparameters, each JSON-encoded as the training toolkit decodes them."""
    try:
        json.loads(config_json)
    except ValueError as error:
        raise TwinError(f"The training config is not valid JSON ({error}).") from error
    # The toolkit json-decodes every value; encoding strings first makes them arrive unchanged
    # (a bare JSON object would reach the program as `key=value,...`).
    return {
        CONFIG_HYPERPARAMETER: json.dumps(config_json),
        "sagemaker_program": json.dumps(spec.program),
        "sagemaker_submit_directory": json.dumps(spec.source_s3_uri),
        "sagemaker_region": json.dumps(spec.region),
        "sagemaker_container_log_level": "20",
    }


def dataset_channel(name: str, input_s3_uri: str) -> dict[str, Any]:
    """An S3 channel for one dataset folder; the trailing slash keeps `instruct_old/` out of `instruct`."""
    source = {"S3DataType": "S3Prefix", "S3Uri": f"{input_s3_uri.rstrip('/')}/{name}/"}
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {**source, "S3DataDistributionType": "FullyReplicated"}},
    }


def build_training_job_request(
    spec: SageMakerTrainingSpec, config_json: str, job_name: str
) -> dict[str, Any]:
    """The keyword arguments of `create_training_job` for one run of the training config."""
    if not JOB_NAME.fullmatch(job_name):
        raise TwinError(f"{job_name!r} is not a SageMaker job name: 1-63 letters, digits and inner hyphens.")
    hyperparameters = training_hyperparameters(spec, config_json)
    check_hyperparameters(hyperparameters)
    return {
        "TrainingJobName": job_name,
        "RoleArn": spec.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": spec.image_uri or default_training_image(spec.region),
            "TrainingInputMode": "File",
        },
        "HyperParameters": hyperparameters,
        "InputDataConfig": [dataset_channel(name, spec.input_s3_uri) for name in ("instruct", "preference")],
        "OutputDataConfig": {"S3OutputPath": spec.output_s3_uri},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
        "Environment": {
            "HF_HUB_OFFLINE": "1",
            "ZENML_ANALYTICS_OPT_IN": "false",
            # The program runs by path, so Python would put its own folder (tools/) first on
            # sys.path instead of the source root that holds llm_engineering.
            "PYTHONPATH": CODE_DIR,
        },
    }


def launch_training_job(client: Any, request: dict[str, Any]) -> str:
    """Start the job with a boto3 `sagemaker` client; returns its ARN without waiting for it."""
    check_hyperparameters(request.get("HyperParameters", {}))
    name = request.get("TrainingJobName")
    try:
        response = client.create_training_job(**request)
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "an error"), details.get("Message", str(error))
        raise TwinError(
            f"SageMaker refused training job {name!r} with {code}: {message}. Check that the role "
            f"{request.get('RoleArn')} exists, trusts sagemaker.amazonaws.com and can read and write the "
            f"S3 prefixes; that the account's quota for {request['ResourceConfig']['InstanceType']} "
            f"training jobs in {client.meta.region_name} is above zero (Service Quotas); and that "
            "AWS_REGION is the region of the buckets."
        ) from error
    except BotoCoreError as error:
        raise TwinError(
            f"SageMaker could not be called ({error}); check the AWS credentials and AWS_REGION."
        ) from error
    arn: str = response["TrainingJobArn"]
    logger.info(f"Started SageMaker training job {name}: {arn}")
    return arn


def canonical_name(requirement: str) -> str:
    """A package's name as pip compares it: `Foo_Bar.baz==1` -> `foo-bar-baz`."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else ""


def requirements_for_sagemaker(lock: Path = LOCK_FILE) -> list[str]:
    """The lock's pins for SAGEMAKER_PACKAGES, the lines of the job's requirements.txt."""
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise TwinError(f"{lock} is missing; the SageMaker job installs the pins it holds.") from error
    pins = [line.split(" #")[0].rstrip(" \\") for line in lines if line and not line[0].isspace()]
    # A universal lock may pin one package twice under different markers; the job keeps both lines.
    chosen = [pin for name in SAGEMAKER_PACKAGES for pin in pins if canonical_name(pin) == name]
    missing = [name for name in SAGEMAKER_PACKAGES if not any(canonical_name(pin) == name for pin in chosen)]
    if missing:
        raise TwinError(
            f"{lock.name} pins no version of {', '.join(missing)}; add them to pyproject.toml and "
            "regenerate the lock (the command is at its top)."
        )
    return chosen
