"""The deploy commands against Stubber-answered boto3 clients: settings in, exact AWS requests out."""

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner, Result

from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.container import models as container_models
from llm_engineering.infrastructure.settings import Settings
from tests.support.aws import stubbed_client
from tests.support.fakes import InMemoryRegistry
from tools import deploy as deploy_module

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker"
ACCOUNT = "arn:aws:sagemaker:eu-central-1:123456789012"
NAME = "twin-prod-20250301-142500"
KEY = "deployments/twin-prod/20250301-142500/model.tar.gz"
TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/twin-prod/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


@pytest.fixture(autouse=True)
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A deployable configuration, in a folder without a `.env` that could leak the user's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ARN_ROLE", ROLE)
    monkeypatch.setenv("AWS_S3_BUCKET", "s3://twin-artifacts/")
    monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", "twin-prod")
    for name in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(deploy_module, "release_version", lambda: "20250301-142500")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    """Stubbed s3, sagemaker and application-autoscaling clients, handed to the commands by service."""
    with ExitStack() as stack:
        pairs = {
            service: stack.enter_context(stubbed_client(service, monkeypatch))
            for service in ("s3", "sagemaker", "application-autoscaling")
        }

        def client(settings: Settings, service: str) -> Any:
            assert settings.aws_region == "eu-central-1"
            return pairs[service][0]

        monkeypatch.setattr(deploy_module, "aws_client", client)
        yield {service: stubber for service, (_, stubber) in pairs.items()}


def invoke(*args: str) -> Result:
    get_settings.cache_clear()  # the commands read the environment as the test left it
    return CliRunner().invoke(deploy_module.deploy, list(args))


def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "tokenizer_config.json", "model.safetensors"):
        (folder / name).write_text("{}")
    return folder


def test_create_uploads_and_deploys_the_given_model(tmp_path: Path, stubs: dict[str, Stubber]) -> None:
    upload = {"Bucket": "twin-artifacts", "Key": KEY, "Body": ANY, "ChecksumAlgorithm": ANY}
    stubs["s3"].add_response("put_object", {"ETag": '"1"'}, upload)
    sagemaker = stubs["sagemaker"]
    sagemaker.add_client_error(
        "describe_endpoint", "ValidationException", 'Could not find endpoint "twin-prod".', 400
    )
    model = {
        "ModelName": NAME,
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": ANY, "ModelDataUrl": f"s3://twin-artifacts/{KEY}", "Environment": ANY},
    }
    sagemaker.add_response("create_model", {"ModelArn": f"{ACCOUNT}:model/{NAME}"}, model)
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": NAME,
        "InstanceType": "ml.g5.2xlarge",
        "InitialInstanceCount": 1,
        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
    }
    sagemaker.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ACCOUNT}:endpoint-config/{NAME}"},
        {"EndpointConfigName": NAME, "ProductionVariants": [variant]},
    )
    sagemaker.add_response(
        "create_endpoint",
        {"EndpointArn": f"{ACCOUNT}:endpoint/twin-prod"},
        {"EndpointName": "twin-prod", "EndpointConfigName": NAME},
    )

    result = invoke(
        "create", "--model-dir", str(model_folder(tmp_path)), "--instance-type", "ml.g5.2xlarge", "--no-wait"
    )

    assert result.exit_code == 0, result.output
    assert result.output == f"Endpoint twin-prod created with {NAME}: Creating.\n"


def test_create_without_a_production_model_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, stubs: dict[str, Stubber]
) -> None:
    monkeypatch.setattr(container_models, "get_model_registry", InMemoryRegistry)
    result = invoke("create")
    assert result.exit_code == 1
    assert "No version of llm_twin is in production" in result.output
    assert "poe run-evaluation-pipeline" in result.output and "poe promote-model" in result.output


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
    stubs: dict[str, Stubber],
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


def test_delete_reports_when_there_is_nothing_to_delete(stubs: dict[str, Stubber]) -> None:
    sagemaker = stubs["sagemaker"]
    sagemaker.add_client_error(
        "describe_endpoint",
        "ValidationException",
        'Could not find endpoint "twin-prod".',
        400,
        expected_params={"EndpointName": "twin-prod"},
    )
    sagemaker.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": "twin-prod"})
    sagemaker.add_response("list_models", {"Models": []}, {"NameContains": "twin-prod"})

    result = invoke("delete")

    assert result.exit_code == 0, result.output
    assert "No endpoint 'twin-prod', config or model of it in eu-central-1; nothing deleted." in result.output


def test_autoscale_applies_the_options_and_off_detaches(stubs: dict[str, Stubber]) -> None:
    scaling = stubs["application-autoscaling"]
    scaling.add_response("register_scalable_target", {}, {**TARGET, "MinCapacity": 2, "MaxCapacity": 5})
    policy = {
        "PolicyName": "twin-prod-invocations-per-instance",
        **TARGET,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 12.5,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }
    scaling.add_response("put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:policy"}, policy)

    result = invoke("autoscale", "--min", "2", "--max", "5", "--target", "12.5")
    assert result.exit_code == 0, result.output
    assert "twin-prod scales between 2 and 5 instances, aiming at 12.5 invocations" in result.output

    scaling.add_response("deregister_scalable_target", {}, TARGET)
    assert invoke("autoscale", "--off").output == "Endpoint twin-prod no longer autoscales.\n"


def test_autoscale_refuses_bounds_that_cross(stubs: dict[str, Stubber]) -> None:
    result = invoke("autoscale", "--min", "3", "--max", "2")
    assert result.exit_code == 1
    assert "min_capacity must not exceed max_capacity" in result.output
