"""SageMaker training job requests, sent to a real boto3 `sagemaker` client that a Stubber answers."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.training import (
    HF_TRAINING_IMAGE_TAG,
    SAGEMAKER_PACKAGES,
    SageMakerTrainingSpec,
    build_training_job_request,
    default_training_image,
    job_name,
    launch_training_job,
    requirements_for_sagemaker,
)

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker"
ARN = "arn:aws:sagemaker:eu-central-1:123456789012:training-job/llm-twin-training-20250301-142500"
CONFIG = json.dumps(
    {"base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "sft": {"epochs": 3}, "note": 'a "b"'}
)
SPEC = SageMakerTrainingSpec(
    role_arn=ROLE,
    input_s3_uri="s3://twin-data/datasets/",
    output_s3_uri="s3://twin-data/models",
    source_s3_uri="s3://twin-data/source/llm-twin-0.1.0.tar.gz",
)
NAME = "llm-twin-training-20250301-142500"


def test_request_holds_image_channels_resources_and_encoded_hyperparameters() -> None:
    request = build_training_job_request(SPEC, CONFIG, NAME)

    assert request["TrainingJobName"] == NAME
    assert request["RoleArn"] == ROLE
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-pytorch-training:"
        + HF_TRAINING_IMAGE_TAG,
        "TrainingInputMode": "File",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}
    assert channels["instruct"]["S3Uri"] == "s3://twin-data/datasets/instruct/"
    assert channels["preference"]["S3Uri"] == "s3://twin-data/datasets/preference/"
    assert {source["S3DataType"] for source in channels.values()} == {"S3Prefix"}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://twin-data/models"}
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.g5.2xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 50,
    }
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 4 * 3600}
    assert request["Environment"]["HF_HUB_OFFLINE"] == "1"
    assert request["Environment"]["ZENML_ANALYTICS_OPT_IN"] == "false"

    hyperparameters = request["HyperParameters"]
    assert all(isinstance(value, str) for value in hyperparameters.values())
    # Decoded the way the training toolkit decodes them: the program gets the config JSON verbatim.
    decoded = {name: json.loads(value) for name, value in hyperparameters.items()}
    assert decoded["training_config"] == CONFIG
    assert decoded["sagemaker_program"] == "tools/train_entrypoint.py"
    assert decoded["sagemaker_submit_directory"] == "s3://twin-data/source/llm-twin-0.1.0.tar.gz"
    assert decoded["sagemaker_region"] == "eu-central-1"


def test_launch_sends_exactly_the_built_request_and_returns_the_arn(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    request = build_training_job_request(SPEC, CONFIG, NAME)
    # The Stubber also checks the request against SageMaker's API model (names, types, required fields).
    stubber.add_response("create_training_job", {"TrainingJobArn": ARN}, expected_params=request)

    assert launch_training_job(client, request) == ARN


def test_a_validation_exception_becomes_a_twin_error_saying_what_to_check(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    request = build_training_job_request(
        SPEC.model_copy(update={"instance_type": "ml.p5.48xlarge"}), CONFIG, NAME
    )
    stubber.add_client_error(
        "create_training_job",
        service_error_code="ValidationException",
        service_message="The account-level service limit 'ml.p5.48xlarge for training job usage' is 0",
        http_status_code=400,
        expected_params=request,
    )

    with pytest.raises(TwinError) as raised:
        launch_training_job(client, request)
    message = str(raised.value)
    assert "ValidationException: The account-level service limit 'ml.p5.48xlarge" in message
    assert ROLE in message
    assert "quota for ml.p5.48xlarge training jobs in eu-central-1" in message


def test_an_over_long_config_is_refused_before_any_call(sagemaker: tuple[Any, Stubber]) -> None:
    client, _ = sagemaker  # no response queued: a call would fail with the Stubber's own error
    long_config = json.dumps({"system_prompt": "x" * 2490})
    with pytest.raises(TwinError, match=r"'training_config' \(25\d\d characters\).*2500 characters"):
        build_training_job_request(SPEC, long_config, NAME)

    request = build_training_job_request(SPEC, CONFIG, NAME)
    request["HyperParameters"]["training_config"] = json.dumps(long_config)
    with pytest.raises(TwinError, match="longer than the 2500 characters"):
        launch_training_job(client, request)


def test_the_limit_counts_the_encoded_value() -> None:
    # 2,400 quotes fit as raw text but double once escaped for the training toolkit.
    quoted = json.dumps({"q": '"' * 1200})
    assert len(quoted) < 2500
    with pytest.raises(TwinError, match="training_config"):
        build_training_job_request(SPEC, quoted, NAME)


def test_bad_names_configs_and_locations_fail_fast() -> None:
    with pytest.raises(TwinError, match="not a SageMaker job name"):
        build_training_job_request(SPEC, CONFIG, "twin_training")
    with pytest.raises(TwinError, match="not valid JSON"):
        build_training_job_request(SPEC, "{epochs: 3}", NAME)
    fields = SPEC.model_dump()
    for change in ({"role_arn": "twin-sagemaker"}, {"source_s3_uri": "s3://twin-data/source/"}):
        with pytest.raises(ValidationError):
            SageMakerTrainingSpec(**{**fields, **change})
    with pytest.raises(ValidationError):
        SageMakerTrainingSpec(**{**fields, "input_s3_uri": "/home/iris/datasets"})


def test_job_names_are_valid_and_unique_per_second() -> None:
    name = job_name(SPEC, datetime(2025, 3, 1, 14, 25, 0))
    assert name == NAME
    assert build_training_job_request(SPEC, CONFIG, name)["TrainingJobName"] == name


def test_default_image_follows_the_region_registry() -> None:
    assert default_training_image("us-east-1").startswith("763104351884.dkr.ecr.us-east-1.amazonaws.com/")
    assert default_training_image("af-south-1").startswith("626614931356.dkr.ecr.af-south-1.amazonaws.com/")
    with pytest.raises(TwinError, match="set image_uri"):
        default_training_image("mars-north-1")
    custom = SPEC.model_copy(update={"region": "mars-north-1", "image_uri": "1.dkr.ecr/own:1"})
    assert build_training_job_request(custom, CONFIG, NAME)["AlgorithmSpecification"]["TrainingImage"] == (
        "1.dkr.ecr/own:1"
    )


LOCK = """\
# This file was autogenerated by uv via the following command:
#    uv pip compile pyproject.toml -o requirements.lock
accelerate==1.15.0
    # via llm-twin (pyproject.toml)
bitsandbytes==0.49.0 ; sys_platform == 'linux'
    # via llm-twin (pyproject.toml)
datasets==5.2.0
peft==0.21.2
transformers==5.23.0
transformers-stream-generator==0.0.5
trl==1.16.0
"""


def test_requirements_come_from_the_lock_in_package_order(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK)
    assert requirements_for_sagemaker(lock) == [
        "trl==1.16.0",
        "peft==0.21.2",
        "transformers==5.23.0",
        "datasets==5.2.0",
        "accelerate==1.15.0",
        "bitsandbytes==0.49.0 ; sys_platform == 'linux'",
    ]

    lock.write_text(LOCK.replace("trl==1.16.0\n", "").replace("peft==0.21.2\n", ""))
    with pytest.raises(TwinError, match="pins no version of trl, peft"):
        requirements_for_sagemaker(lock)
    with pytest.raises(TwinError, match="missing"):
        requirements_for_sagemaker(tmp_path / "absent.lock")


def test_the_default_lock_is_the_repository_one() -> None:
    assert len(requirements_for_sagemaker()) >= len(SAGEMAKER_PACKAGES)
