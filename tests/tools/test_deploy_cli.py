"""The deploy commands against moto's AWS server on 127.0.0.1: settings in, what AWS then holds out."""

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.container import models as container_models
from tests.support.aws import create_bucket, moto_account
from tests.support.aws_standin import REGION, ROLE, moto_server
from tests.support.fakes import InMemoryRegistry
from tools import deploy as deploy_module

NAME = "twin-prod-20250301-142500"
KEY = "deployments/twin-prod/20250301-142500/model.tar.gz"
RESOURCE = "endpoint/twin-prod/variant/AllTraffic"


@dataclass(frozen=True)
class Aws:
    """The test's bucket and clients to read back what the commands left in moto."""

    bucket: str
    s3: Any
    sagemaker: Any
    scaling: Any


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def aws(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A deployable configuration against an empty AWS account on moto (keys from boto's chain: moto's
    dummy ones), in a folder without a `.env` that could leak the user's own."""
    with moto_account(moto_endpoint) as account:
        bucket = create_bucket(account)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("AWS_REGION", REGION)
        monkeypatch.setenv("AWS_ARN_ROLE", ROLE)
        monkeypatch.setenv("AWS_S3_BUCKET", f"s3://{bucket}/")
        monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", "twin-prod")
        for name in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(deploy_module, "release_version", lambda: "20250301-142500")
        clients = (boto3.client(service, region_name=REGION) for service in ("s3", "sagemaker"))
        yield Aws(bucket, *clients, boto3.client("application-autoscaling", region_name=REGION))
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    get_settings.cache_clear()  # the commands read the environment as the test left it
    return CliRunner().invoke(deploy_module.deploy, list(args))


def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "tokenizer_config.json", "model.safetensors"):
        (folder / name).write_text("{}")
    return folder


def create(tmp_path: Path) -> Result:
    # moto's list of endpoint instance types predates the g5 family of the default (ml.g5.xlarge).
    model_dir = str(model_folder(tmp_path))
    return invoke("create", "--model-dir", model_dir, "--instance-type", "ml.g4dn.xlarge", "--no-wait")


def sagemaker_holds(aws: Aws) -> list[str]:
    """The names of every endpoint, endpoint config and model in the test's account."""
    return [
        *(endpoint["EndpointName"] for endpoint in aws.sagemaker.list_endpoints()["Endpoints"]),
        *(
            config["EndpointConfigName"]
            for config in aws.sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ),
        *(model["ModelName"] for model in aws.sagemaker.list_models()["Models"]),
    ]


def nothing_deployed(aws: Aws) -> bool:
    return aws.s3.list_objects_v2(Bucket=aws.bucket)["KeyCount"] == 0 and sagemaker_holds(aws) == []


def test_create_uploads_and_deploys_the_given_model(tmp_path: Path, aws: Aws) -> None:
    result = create(tmp_path)

    assert result.exit_code == 0, result.output
    assert result.output == f"Endpoint twin-prod created with {NAME}: Creating.\n"
    archive = aws.s3.get_object(Bucket=aws.bucket, Key=KEY)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["config.json", "model.safetensors", "tokenizer_config.json"]
    model = aws.sagemaker.describe_model(ModelName=NAME)
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{aws.bucket}/{KEY}"
    (variant,) = aws.sagemaker.describe_endpoint_config(EndpointConfigName=NAME)["ProductionVariants"]
    assert (variant["VariantName"], variant["ModelName"]) == ("AllTraffic", NAME)
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g4dn.xlarge", 1)
    assert aws.sagemaker.describe_endpoint(EndpointName="twin-prod")["EndpointConfigName"] == NAME


def test_create_without_a_production_model_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, aws: Aws
) -> None:
    monkeypatch.setattr(container_models, "get_model_registry", InMemoryRegistry)
    result = invoke("create")
    assert result.exit_code == 1
    assert "No version of llm_twin is in production" in result.output
    assert "poe run-evaluation-pipeline" in result.output and "poe promote-model" in result.output
    assert nothing_deployed(aws)


@pytest.mark.parametrize(
    ("unset", "role", "message"),
    [
        (("AWS_ARN_ROLE", "AWS_S3_BUCKET"), None, "Deploying needs AWS_ARN_ROLE and AWS_S3_BUCKET"),
        (("AWS_S3_BUCKET",), None, "Deploying needs AWS_S3_BUCKET: the IAM role"),
        ((), "twin-sagemaker", "AWS_ARN_ROLE='twin-sagemaker' is not an IAM role ARN"),
    ],
)
def test_create_names_the_settings_to_fix_before_any_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    aws: Aws,
    unset: tuple[str, ...],
    role: str | None,
    message: str,
) -> None:
    for name in unset:
        monkeypatch.delenv(name)
    if role:
        monkeypatch.setenv("AWS_ARN_ROLE", role)
    result = invoke("create", "--model-dir", str(model_folder(tmp_path)))
    assert result.exit_code == 1
    assert message in result.output
    assert nothing_deployed(aws)


def test_delete_removes_what_create_made_and_then_reports_nothing_to_delete(tmp_path: Path, aws: Aws) -> None:
    assert create(tmp_path).exit_code == 0
    assert sagemaker_holds(aws) == ["twin-prod", NAME, NAME]

    result = invoke("delete")

    assert result.exit_code == 0, result.output
    assert result.output == f"Deleted endpoint twin-prod, configs {NAME} and models {NAME}.\n"
    assert sagemaker_holds(aws) == []
    result = invoke("delete")
    assert result.exit_code == 0, result.output
    assert "No endpoint 'twin-prod', config or model of it in eu-central-1; nothing deleted." in result.output


def test_autoscale_applies_the_options_and_off_detaches(aws: Aws) -> None:
    result = invoke("autoscale", "--min", "2", "--max", "5", "--target", "12.5")

    assert result.exit_code == 0, result.output
    assert "twin-prod scales between 2 and 5 instances, aiming at 12.5 invocations" in result.output
    (target,) = aws.scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (RESOURCE, 2, 5)
    (policy,) = aws.scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert (policy["ResourceId"], policy["PolicyName"]) == (RESOURCE, "twin-prod-invocations-per-instance")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 12.5
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )

    assert invoke("autoscale", "--off").output == "Endpoint twin-prod no longer autoscales.\n"
    assert aws.scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_autoscale_refuses_bounds_that_cross(aws: Aws) -> None:
    result = invoke("autoscale", "--min", "3", "--max", "2")
    assert result.exit_code == 1
    assert "min_capacity must not exceed max_capacity" in result.output
    assert aws.scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_create_refuses_an_endpoint_that_cannot_take_a_release_before_uploading_anything(
    tmp_path: Path, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's endpoints are InService at once; botocore's Stubber plays one still being updated.
    stubbed = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(stubbed)
    stubber.add_response(
        "describe_endpoint",
        {
            "EndpointName": "twin-prod",
            "EndpointArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/twin-prod",
            "EndpointConfigName": "twin-prod-20250201-090000",
            "EndpointStatus": "Updating",
            "CreationTime": datetime(2025, 3, 1, tzinfo=UTC),
            "LastModifiedTime": datetime(2025, 3, 1, tzinfo=UTC),
        },
        {"EndpointName": "twin-prod"},
    )
    real_client = deploy_module.aws_client
    monkeypatch.setattr(
        deploy_module,
        "aws_client",
        lambda settings, service: stubbed if service == "sagemaker" else real_client(settings, service),
    )

    with stubber:
        result = create(tmp_path)

    assert result.exit_code == 1
    assert "Endpoint 'twin-prod' is Updating; wait until it is InService" in result.output
    assert aws.s3.list_objects_v2(Bucket=aws.bucket)["KeyCount"] == 0  # no archive was uploaded
