"""The stack and settings-secret commands against throwaway ZenML stores (no AWS, no network)."""

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from pydantic import ValidationError
from zenml.client import Client
from zenml.enums import StackComponentType

from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.settings import Settings
from tests.support.zenml_store import isolated_zenml
from tests.tools.conftest import RemoteStandins, client_of
from tools.stack import (
    AWS_STACK,
    SETTINGS_SECRET,
    export_settings_command,
    settings_from_zenml_secret,
    settings_secret_values,
    stack,
)

AWS_ENV = {
    "AWS_REGION": "eu-west-3",
    "AWS_ARN_ROLE": "arn:aws:iam::123456789012:role/twin-sagemaker",
    "AWS_S3_BUCKET": "twin-artifacts",
    "AWS_ECR_REPOSITORY": "123456789012.dkr.ecr.eu-west-3.amazonaws.com/llm-twin",
    "AWS_ACCESS_KEY": "AKIAEXAMPLEKEY",
    "AWS_SECRET_KEY": "example-secret-access-key",
}


@pytest.fixture(scope="module", autouse=True)
def zen_store(tmp_path_factory: pytest.TempPathFactory, remote_standins: RemoteStandins) -> Iterator[None]:
    """A client of the stand-in ZenML server (the AWS stack is registered only in a server SageMaker could
    reach); each test registers what it needs, as registering is idempotent."""
    with client_of(remote_standins.zenml_url, tmp_path_factory.mktemp("zenml")):
        yield


@pytest.fixture(autouse=True)
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A complete AWS configuration, and a working folder without a `.env` to leak the user's own."""
    monkeypatch.chdir(tmp_path)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("LINKEDIN_USERNAME", "LINKEDIN_PASSWORD", "DATABASE_HOST"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    if not Client().list_secrets(name=SETTINGS_SECRET).total:  # registering needs the exported settings
        run(export_settings_command)
    yield
    get_settings.cache_clear()


def invoke(command: click.Command, *args: str) -> Result:
    get_settings.cache_clear()  # the commands read the environment as the test left it
    return CliRunner().invoke(command, list(args))


def run(command: click.Command, *args: str) -> str:
    result = invoke(command, *args)
    assert result.exit_code == 0, result.output
    return result.output


def registered() -> dict[tuple[str, str], tuple[str, dict]]:
    """Every stack and component with its configuration, to show that a failed command changed nothing."""
    client = Client()
    found = {("stack", item.name): ("", {}) for item in client.list_stacks(size=100)}
    for item in client.list_stack_components(size=100):
        found[(item.type.value, item.name)] = (item.flavor_name, item.configuration)
    return found


def aws_components() -> dict[StackComponentType, tuple[str, str, dict]]:
    """Name, flavor and configuration of each component of the registered AWS stack."""
    components = Client().get_stack(AWS_STACK, allow_name_prefix_match=False).components
    return {
        kind: (found[0].name, found[0].flavor_name, found[0].configuration)
        for kind, found in components.items()
    }


def test_register_aws_builds_the_stack_from_settings() -> None:
    run(stack, "register-aws")

    components = aws_components()
    artifacts, orchestrator, registry, builder = (
        components[kind]
        for kind in (
            StackComponentType.ARTIFACT_STORE,
            StackComponentType.ORCHESTRATOR,
            StackComponentType.CONTAINER_REGISTRY,
            StackComponentType.IMAGE_BUILDER,
        )
    )
    assert artifacts[:2] == ("s3-artifact-store", "s3")
    assert artifacts[2]["path"] == "s3://twin-artifacts"
    assert artifacts[2]["key"] == "{{settings.aws_access_key}}"
    assert artifacts[2]["secret"] == "{{settings.aws_secret_key}}"
    assert artifacts[2]["client_kwargs"] == {"region_name": "eu-west-3"}
    assert orchestrator[:2] == ("sagemaker-orchestrator", "sagemaker")
    assert orchestrator[2]["execution_role"] == AWS_ENV["AWS_ARN_ROLE"]
    # Schedules need a role EventBridge assumes; without its own setting the execution role is named.
    assert orchestrator[2]["scheduler_role"] == AWS_ENV["AWS_ARN_ROLE"]
    assert orchestrator[2]["bucket"] == "twin-artifacts"
    assert orchestrator[2]["region"] == "eu-west-3"
    assert orchestrator[2]["aws_access_key_id"] == "{{settings.aws_access_key}}"
    assert registry == ("ecr-registry", "aws", {"uri": "123456789012.dkr.ecr.eu-west-3.amazonaws.com"})
    assert builder[:2] == ("local-image-builder", "local")
    # Wherever a step of the stack runs, ZenML sets the exported settings as its environment.
    secret = Client().get_secret(SETTINGS_SECRET, allow_partial_name_match=False)
    assert Client().get_stack(AWS_STACK, allow_name_prefix_match=False).secrets == [secret.id]


def test_registering_again_updates_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    run(stack, "register-aws")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_S3_BUCKET", "s3://other-bucket/")
    monkeypatch.delenv("AWS_ACCESS_KEY")
    monkeypatch.delenv("AWS_SECRET_KEY")
    run(stack, "register-aws")

    client = Client()
    assert client.list_stacks(name=AWS_STACK).total == 1
    for name in ("s3-artifact-store", "sagemaker-orchestrator", "ecr-registry", "local-image-builder"):
        assert client.list_stack_components(name=name).total == 1, name
    components = aws_components()
    orchestrator = components[StackComponentType.ORCHESTRATOR][2]
    artifacts = components[StackComponentType.ARTIFACT_STORE][2]
    assert orchestrator["region"] == "us-east-1"
    assert "aws_access_key_id" not in orchestrator  # unset keys fall back to the default credential chain
    assert artifacts["path"] == "s3://other-bucket"
    assert "key" not in artifacts


def test_step_operator_mode_keeps_the_orchestrator_here_and_switching_back_drops_the_step_operator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_RUN_MODE", "step_operator")
    assert "the training step on SageMaker" in run(stack, "register-aws")

    components = aws_components()
    assert components[StackComponentType.ORCHESTRATOR][:2] == ("local-orchestrator", "local")
    name, flavor, configuration = components[StackComponentType.STEP_OPERATOR]
    assert (name, flavor) == ("sagemaker-step-operator", "twin_sagemaker")
    assert configuration["role"] == AWS_ENV["AWS_ARN_ROLE"]
    assert configuration["bucket"] == "twin-artifacts"
    assert components[StackComponentType.ARTIFACT_STORE][2]["path"] == "s3://twin-artifacts"

    monkeypatch.setenv("AWS_RUN_MODE", "orchestrator")
    assert "every step runs on SageMaker" in run(stack, "register-aws")
    components = aws_components()
    assert components[StackComponentType.ORCHESTRATOR][:2] == ("sagemaker-orchestrator", "sagemaker")
    assert StackComponentType.STEP_OPERATOR not in components


def test_registering_before_the_settings_are_exported_says_to_export_them() -> None:
    client = Client()
    client.delete_secret(SETTINGS_SECRET)
    before = registered()

    result = invoke(stack, "register-aws")

    assert result.exit_code == 1
    assert "run `poe export-settings-to-zenml` where .env is" in result.output
    assert registered() == before


def test_a_local_store_is_refused_with_the_way_to_a_server(tmp_path: Path) -> None:
    with isolated_zenml(tmp_path / "local"):
        before = registered()
        for command in ("register-aws", "set-aws"):
            result = invoke(stack, command)
            assert result.exit_code == 1, result.output
            assert "uses a local one" in result.output
            assert "poe zenml-server-connect --url URL" in result.output
        assert registered() == before


def test_without_the_aws_extra_register_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from zenml.integrations.s3 import S3Integration

    # As in an environment installed without the extra: ZenML's own check finds s3fs missing.
    monkeypatch.setattr(S3Integration, "REQUIREMENTS", ["s3fs-not-installed>=1"])
    before = registered()

    result = invoke(stack, "register-aws")

    assert result.exit_code == 1
    assert "ZenML's s3 integration is not installed" in result.output
    assert 'pip install -c requirements.lock -e ".[aws]"' in result.output
    assert registered() == before


def test_set_aws_and_set_local_switch_the_active_stack() -> None:
    run(stack, "register-aws")

    run(stack, "set-aws")
    assert Client().active_stack_model.name == AWS_STACK
    run(stack, "set-local")
    assert Client().active_stack_model.name == "default"


def test_missing_settings_name_the_variables_and_register_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ARN_ROLE")
    monkeypatch.setenv("AWS_ECR_REPOSITORY", " ")

    before = registered()
    result = invoke(stack, "register-aws")

    assert result.exit_code == 2
    assert "AWS_ARN_ROLE, AWS_ECR_REPOSITORY" in result.output
    assert "AWS_S3_BUCKET" not in result.output
    assert registered() == before

    monkeypatch.setenv("AWS_ARN_ROLE", AWS_ENV["AWS_ARN_ROLE"])
    monkeypatch.setenv("AWS_ECR_REPOSITORY", AWS_ENV["AWS_ECR_REPOSITORY"])
    monkeypatch.delenv("AWS_SECRET_KEY")
    result = invoke(stack, "register-aws")
    # Settings refuse one key alone before the command runs (the rule lives there, once).
    assert isinstance(result.exception, ValidationError)
    assert "set both AWS_ACCESS_KEY and AWS_SECRET_KEY, or neither" in str(result.exception)
    assert registered() == before


def test_unregistered_aws_stack_and_secret_say_what_to_run() -> None:
    # The module shares one store (each costs seconds to create), so remove what earlier tests made.
    client = Client()
    client.activate_stack("default")
    if client.list_stacks(name=AWS_STACK).total:
        client.update_stack(AWS_STACK, name="aws-stack-renamed")
    if client.list_secrets(name=SETTINGS_SECRET).total:
        client.delete_secret(SETTINGS_SECRET)

    result = invoke(stack, "set-aws")

    assert result.exit_code == 1
    assert "run `poe register-aws-stack` first" in result.output
    assert Client().active_stack_model.name == "default"
    with pytest.raises(LookupError, match="poe export-settings-to-zenml"):
        settings_from_zenml_secret()


def test_exported_settings_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LINKEDIN_USERNAME", "iris@example.org")
    monkeypatch.setenv("LINKEDIN_PASSWORD", "a-real-password")
    monkeypatch.setenv("DATABASE_TIMEOUT_MS", "1234")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    exported = Settings()
    run(export_settings_command)

    stored = Client().get_secret(SETTINGS_SECRET, allow_partial_name_match=False).secret_values
    assert stored == settings_secret_values(exported)
    assert stored["aws_secret_key"] == AWS_ENV["AWS_SECRET_KEY"]  # plain text inside the secret
    assert "database_host" not in stored  # None is left out, not stored as "None"

    for name in (*AWS_ENV, "LINKEDIN_USERNAME", "LINKEDIN_PASSWORD", "DATABASE_TIMEOUT_MS", "DATA_DIR"):
        monkeypatch.delenv(name)
    loaded = settings_from_zenml_secret()
    assert settings_secret_values(loaded) == stored
    assert loaded.database_timeout_ms == 1234
    assert loaded.data_dir == tmp_path / "data"
    assert loaded.aws_secret_key is not None
    assert loaded.aws_secret_key.get_secret_value() == AWS_ENV["AWS_SECRET_KEY"]


def test_exporting_again_drops_settings_that_were_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKEDIN_USERNAME", "iris@example.org")
    run(export_settings_command)
    monkeypatch.delenv("LINKEDIN_USERNAME")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    run(export_settings_command)

    client = Client()
    assert client.list_secrets(name=SETTINGS_SECRET).total == 1
    stored = client.get_secret(SETTINGS_SECRET, allow_partial_name_match=False).secret_values
    assert "linkedin_username" not in stored
    assert stored["aws_region"] == "ap-south-1"
