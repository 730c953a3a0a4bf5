"""Packaging, uploading and deploying a release: against moto's AWS server on 127.0.0.1 where moto can
play the part, and against a Stubber for the endpoint states moto cannot reach (updates, failures)."""

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.deletion import Deletion, delete_endpoint
from llm_engineering.infrastructure.aws.deploy import (
    Deployment,
    deploy_endpoint,
    model_key,
    package_model,
    release_version,
    upload_model,
)
from llm_engineering.infrastructure.aws.endpoint_config import DeployConfig, ModelRelease, endpoint_requests
from tests.support.aws import NEW, OLD, WHEN, create_bucket, stubbed_client
from tests.support.aws_standin import REGION, ROLE

URL = "s3://twin-artifacts/deployments/llm-twin/20250301-142500/model.tar.gz"
RELEASE = ModelRelease(model_data_url=URL, role_arn=ROLE, version="20250301-142500")
ARN = f"arn:aws:sagemaker:{REGION}:123456789012"
# moto's list of endpoint instance types predates the g5 family of the default (ml.g5.xlarge).
ON_MOTO = DeployConfig(instance_type="ml.g4dn.xlarge")


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


def test_upload_puts_the_archive_at_the_key_and_returns_its_uri(aws_account: str, tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"archive")
    key = model_key(DeployConfig(), release_version(WHEN))
    assert key == "deployments/llm-twin/20250301-142500/model.tar.gz"
    bucket, s3 = create_bucket(aws_account), boto3.client("s3", region_name=REGION)

    assert upload_model(s3, archive, bucket, key) == f"s3://{bucket}/{key}"

    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"archive"
    with pytest.raises(TwinError, match=r"NoSuchBucket.*AWS_S3_BUCKET exists in AWS_REGION"):
        upload_model(s3, archive, f"{bucket}-absent", key)


@pytest.mark.parametrize(("wait", "status"), [(False, "Creating"), (True, "InService")])
def test_a_new_endpoint_is_created_from_a_versioned_model_and_config(
    aws_account: str, wait: bool, status: str
) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)

    deployment = deploy_endpoint(sagemaker, ON_MOTO, RELEASE, wait=wait)

    # moto's endpoints are InService at once, so waiting returns after the first poll.
    assert deployment == Deployment("llm-twin", NEW, NEW, updated=False, status=status)
    requests = endpoint_requests(ON_MOTO, RELEASE, REGION)  # their exact shape: test_endpoint_config
    model = sagemaker.describe_model(ModelName=NEW)
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"] == requests["model"]["PrimaryContainer"]
    assert model["PrimaryContainer"]["ModelDataUrl"] == URL
    assert model["PrimaryContainer"]["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    (variant,) = sagemaker.describe_endpoint_config(EndpointConfigName=NEW)["ProductionVariants"]
    assert variant.items() >= requests["endpoint_config"]["ProductionVariants"][0].items()
    assert (variant["VariantName"], variant["ModelName"], variant["InstanceType"]) == (
        "AllTraffic",
        NEW,
        "ml.g4dn.xlarge",
    )
    assert sagemaker.describe_endpoint(EndpointName="llm-twin")["EndpointConfigName"] == NEW


def test_a_refused_config_creates_no_endpoint_and_delete_clears_what_it_left(aws_account: str) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    config = DeployConfig(instance_type="ml.nope.xlarge")  # no such instance type, on AWS or on moto

    with pytest.raises(
        TwinError, match="Deploying llm-twin-20250301-142500 to endpoint 'llm-twin' failed"
    ) as raised:
        deploy_endpoint(sagemaker, config, RELEASE, wait=False)

    message = str(raised.value)
    assert "ml.nope.xlarge" in message and f"Check that {ROLE} trusts sagemaker.amazonaws.com" in message
    assert "autoscaling is detached when the instance type changes" in message
    assert sagemaker.list_endpoints()["Endpoints"] == []
    # The model was created before the config was refused; it is a leftover that delete removes.
    assert [model["ModelName"] for model in sagemaker.list_models()["Models"]] == [NEW]
    assert delete_endpoint(sagemaker, "llm-twin") == Deletion(None, (), (NEW,))
    assert sagemaker.list_models()["Models"] == []


# Stubber from here on: moto's server has no UpdateEndpoint, and its endpoints are InService at once, forever.


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    with stubbed_client("sagemaker", monkeypatch) as pair:
        yield pair


def described(status: str, config_name: str = OLD, reason: str | None = None) -> dict[str, Any]:
    """A describe_endpoint answer."""
    endpoint = {
        "EndpointName": "llm-twin",
        "EndpointArn": f"{ARN}:endpoint/llm-twin",
        "EndpointConfigName": config_name,
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
    }
    return endpoint | ({"FailureReason": reason} if reason else {})


def queue_update(stubber: Stubber) -> None:
    """An InService endpoint, then the create_model and create_endpoint_config calls and the update."""
    stubber.add_response("describe_endpoint", described("InService"), {"EndpointName": "llm-twin"})
    requests = endpoint_requests(DeployConfig(), RELEASE, REGION)  # their exact shape: test_endpoint_config
    stubber.add_response("create_model", {"ModelArn": f"{ARN}:model/{NEW}"}, requests["model"])
    stubber.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}:endpoint-config/{NEW}"},
        requests["endpoint_config"],
    )
    stubber.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/llm-twin"},
        # An autoscaled endpoint keeps its instance count across releases.
        {"EndpointName": "llm-twin", "EndpointConfigName": NEW, "RetainAllVariantProperties": True},
    )


def test_an_existing_endpoint_is_updated_to_the_new_config_and_waited_for(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    queue_update(stubber)
    # The waiter's poll, then the check that the endpoint serves the new config.
    stubber.add_response("describe_endpoint", described("InService", NEW), {"EndpointName": "llm-twin"})
    stubber.add_response("describe_endpoint", described("InService", NEW), {"EndpointName": "llm-twin"})

    deployment = deploy_endpoint(client, DeployConfig(), RELEASE)

    assert deployment == Deployment("llm-twin", NEW, NEW, updated=True, status="InService")


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([described("Failed", NEW, "CUDA out of memory")], "did not reach InService: CUDA out of memory"),
        (
            [described("InService", OLD), described("InService", OLD, "health check failed")],
            f"rolled back to {OLD}: health check failed",
        ),
    ],
)
def test_a_deployment_that_does_not_serve_raises_with_the_reason(
    stubbed: tuple[Any, Stubber], answers: list[dict[str, Any]], message: str
) -> None:
    client, stubber = stubbed
    queue_update(stubber)
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
    stubbed: tuple[Any, Stubber], status: str, reason: str | None, message: str
) -> None:
    client, stubber = stubbed  # nothing else queued: a create call would fail the Stubber
    stubber.add_response("describe_endpoint", described(status, reason=reason), {"EndpointName": "llm-twin"})
    with pytest.raises(TwinError, match=message):
        deploy_endpoint(client, DeployConfig(), RELEASE, wait=False)


def test_a_refused_describe_is_not_taken_for_a_missing_endpoint(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed  # Stubber: moto's server checks no permissions, so it never denies access
    stubber.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(TwinError, match="Describing endpoint 'llm-twin' failed with AccessDeniedException"):
        deploy_endpoint(client, DeployConfig(), RELEASE, wait=False)
