"""Packaging, uploading and deploying a release, sent to real boto3 clients that Stubbers answer."""

import tarfile
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.deploy import (
    Deployment,
    deploy_endpoint,
    model_key,
    package_model,
    release_version,
    upload_model,
)
from llm_engineering.infrastructure.aws.endpoint_config import TGI_IMAGE_TAG, DeployConfig, ModelRelease
from tests.support.aws import ACCOUNT, NEW, OLD, WHEN, endpoint, not_found, stubbed_client

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker"
URL = "s3://twin-artifacts/deployments/llm-twin/20250301-142500/model.tar.gz"
RELEASE = ModelRelease(model_data_url=URL, role_arn=ROLE, version="20250301-142500")
TGI = f"763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-pytorch-tgi-inference:{TGI_IMAGE_TAG}"

MODEL_REQUEST = {
    "ModelName": NEW,
    "ExecutionRoleArn": ROLE,
    "PrimaryContainer": {
        "Image": TGI,
        "ModelDataUrl": URL,
        "Environment": {
            "HF_MODEL_ID": "/opt/ml/model",
            "SM_NUM_GPUS": "1",
            "MAX_INPUT_TOKENS": "2048",
            "MAX_TOTAL_TOKENS": "4096",
            "MAX_BATCH_PREFILL_TOKENS": "4096",
            "HF_HUB_OFFLINE": "1",
        },
    },
}
CONFIG_REQUEST = {
    "EndpointConfigName": NEW,
    "ProductionVariants": [
        {
            "VariantName": "AllTraffic",
            "ModelName": NEW,
            "InstanceType": "ml.g5.xlarge",
            "InitialInstanceCount": 1,
            "ContainerStartupHealthCheckTimeoutInSeconds": 900,
        }
    ],
}


def queue_creation(stubber: Stubber, last: str) -> None:
    """The create_model and create_endpoint_config calls, then `last` (create_ or update_endpoint)."""
    stubber.add_response("create_model", {"ModelArn": f"{ACCOUNT}:model/{NEW}"}, MODEL_REQUEST)
    stubber.add_response(
        "create_endpoint_config", {"EndpointConfigArn": f"{ACCOUNT}:endpoint-config/{NEW}"}, CONFIG_REQUEST
    )
    stubber.add_response(
        last,
        {"EndpointArn": f"{ACCOUNT}:endpoint/llm-twin"},
        {"EndpointName": "llm-twin", "EndpointConfigName": NEW},
    )


def write_model(folder: Path, files: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_text(f"contents of {name}")
    return folder


MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")


def test_the_archive_holds_the_model_files_at_its_root(tmp_path: Path) -> None:
    model = write_model(tmp_path / "model", (*MODEL_FILES, "generation_config.json"))
    (model / "model.safetensors").unlink()
    blob = tmp_path / "cache" / "blob"
    blob.parent.mkdir()
    blob.write_bytes(b"weights")
    (model / "model.safetensors").symlink_to(blob)  # as in a Hub snapshot
    write_model(model / ".cache" / "huggingface", ("download.lock",))
    write_model(model / "extra", ("notes.txt",))

    # An archive written inside the folder must not swallow itself.
    archive = package_model(model, model / "model.tar.gz")

    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert sorted(members) == [
            "config.json",
            "extra/notes.txt",
            "generation_config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
        assert all(member.isfile() for member in members.values())
        weights = tar.extractfile("model.safetensors")
        assert weights is not None and weights.read() == b"weights"


@pytest.mark.parametrize(
    ("files", "missing"),
    [
        (("tokenizer.json", "model.safetensors"), "no config.json"),
        (("config.json", "tokenizer.json", "pytorch_model.bin"), r"no \*.safetensors weights"),
        (("config.json", "model.safetensors"), "no tokenizer.json or tokenizer_config.json"),
        (("adapter_config.json", "adapter_model.safetensors"), "no config.json, tokenizer.json"),
    ],
)
def test_a_folder_that_is_no_model_is_refused(tmp_path: Path, files: tuple[str, ...], missing: str) -> None:
    folder = write_model(tmp_path / "model", files)
    archive = tmp_path / "out" / "model.tar.gz"
    with pytest.raises(TwinError, match=rf"is not a Hugging Face model folder \({missing}.*merged model"):
        package_model(folder, archive)
    assert not archive.exists()
    with pytest.raises(TwinError, match="is not a folder"):
        package_model(tmp_path / "absent", archive)


def test_upload_puts_the_archive_at_the_key_and_returns_its_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"archive")
    key = model_key(DeployConfig(), release_version(WHEN))
    assert key == "deployments/llm-twin/20250301-142500/model.tar.gz"
    with stubbed_client("s3", monkeypatch) as (client, stubber):
        expected = {"Bucket": "twin-artifacts", "Key": key, "Body": ANY, "ChecksumAlgorithm": ANY}
        stubber.add_response("put_object", {"ETag": '"1"'}, expected)
        assert upload_model(client, archive, "twin-artifacts", key) == URL

        stubber.add_client_error("put_object", "NoSuchBucket", "The specified bucket does not exist", 404)
        with pytest.raises(TwinError, match=r"NoSuchBucket.*AWS_S3_BUCKET exists in AWS_REGION"):
            upload_model(client, archive, "twin-artifacts", key)


def test_a_new_endpoint_is_created_from_a_versioned_model_and_config(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    not_found(stubber, "describe_endpoint", "endpoint", {"EndpointName": "llm-twin"})
    queue_creation(stubber, "create_endpoint")

    deployment = deploy_endpoint(client, DeployConfig(), RELEASE, wait=False)

    assert deployment == Deployment("llm-twin", NEW, NEW, updated=False, status="Creating")


def test_an_existing_endpoint_is_updated_to_the_new_config_and_waited_for(
    sagemaker: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker
    stubber.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": "llm-twin"})
    queue_creation(stubber, "update_endpoint")
    # The waiter's poll, then the check that the endpoint serves the new config.
    stubber.add_response("describe_endpoint", endpoint("InService", NEW), {"EndpointName": "llm-twin"})
    stubber.add_response("describe_endpoint", endpoint("InService", NEW), {"EndpointName": "llm-twin"})

    deployment = deploy_endpoint(client, DeployConfig(), RELEASE)

    assert deployment == Deployment("llm-twin", NEW, NEW, updated=True, status="InService")


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([endpoint("Failed", NEW, "CUDA out of memory")], "did not reach InService: CUDA out of memory"),
        (
            [endpoint("InService", OLD), endpoint("InService", OLD, "health check failed")],
            f"rolled back to {OLD}: health check failed",
        ),
    ],
)
def test_a_deployment_that_does_not_serve_raises_with_the_reason(
    sagemaker: tuple[Any, Stubber], answers: list[dict[str, Any]], message: str
) -> None:
    client, stubber = sagemaker
    stubber.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": "llm-twin"})
    queue_creation(stubber, "update_endpoint")
    for answer in answers:
        stubber.add_response("describe_endpoint", answer, {"EndpointName": "llm-twin"})

    with pytest.raises(TwinError, match=message) as raised:
        deploy_endpoint(client, DeployConfig(), RELEASE)
    assert "/aws/sagemaker/Endpoints/llm-twin" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        ("Failed", "Image not found", r"is Failed \(Image not found\).*delete-inference-endpoint"),
        ("Updating", None, "is Updating; wait until it is InService"),
    ],
)
def test_an_endpoint_that_is_not_in_service_is_left_alone(
    sagemaker: tuple[Any, Stubber], status: str, reason: str | None, message: str
) -> None:
    client, stubber = sagemaker  # nothing else queued: a create call would fail the Stubber
    stubber.add_response("describe_endpoint", endpoint(status, reason=reason), {"EndpointName": "llm-twin"})
    with pytest.raises(TwinError, match=message):
        deploy_endpoint(client, DeployConfig(), RELEASE, wait=False)


def test_refusals_become_twin_errors_saying_what_to_check(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    stubber.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(TwinError, match="Describing endpoint 'llm-twin' failed with AccessDeniedException"):
        deploy_endpoint(client, DeployConfig(), RELEASE, wait=False)

    not_found(stubber, "describe_endpoint", "endpoint", {"EndpointName": "llm-twin"})
    stubber.add_client_error("create_model", "ValidationException", "Could not access model data", 400)
    with pytest.raises(TwinError, match=f"Could not access model data. Check that {ROLE} trusts sagemaker"):
        deploy_endpoint(client, DeployConfig(), RELEASE, wait=False)
