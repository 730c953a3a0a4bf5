"""Remote ZenML stack on AWS: register it from Settings, switch stacks, ship Settings as a ZenML secret.

Registering components only writes metadata to the ZenML store and makes no AWS call, but it refuses a store
SageMaker could not reach (a local one) and an environment without the `aws` extra, since a pipeline could
not run on the stack from either. ZenML is imported inside the functions so that `--help` and unrelated
commands stay fast.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import SecretStr

from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.settings import Settings

if TYPE_CHECKING:
    from zenml.models import SecretResponse

AWS_STACK = "aws-stack"
LOCAL_STACK = "default"
SETTINGS_SECRET = "settings"
REQUIRED_AWS_FIELDS = ("aws_region", "aws_arn_role", "aws_s3_bucket", "aws_ecr_repository")
SAGEMAKER_ORCHESTRATOR = "sagemaker-orchestrator"
LOCAL_ORCHESTRATOR = "local-orchestrator"
STEP_OPERATOR = "sagemaker-step-operator"
# The flavor `tools.flavors` defines (a name only here, so that this module loads without the aws extra).
TWIN_STEP_OPERATOR_FLAVOR = "twin_sagemaker"


@dataclass(frozen=True)
class ComponentSpec:
    """One stack component as ZenML stores it: type (a `StackComponentType` value), name, flavor, config."""

    kind: str
    name: str
    flavor: str
    configuration: dict[str, Any] = field(default_factory=dict)


def env_name(field_name: str) -> str:
    """The environment variable that sets a Settings field, e.g. `aws_arn_role` -> `AWS_ARN_ROLE`."""
    return f"{Settings.model_config.get('env_prefix', '')}{field_name}".upper()


def missing_aws_settings(settings: Settings) -> list[str]:
    """Environment variables that must still be set before the AWS stack can be registered."""
    return [env_name(name) for name in REQUIRED_AWS_FIELDS if not str(getattr(settings, name) or "").strip()]


def credential_references(settings: Settings) -> tuple[str | None, str | None]:
    """References into the `settings` secret, so no key sits in plain text; None means boto's own chain.

    Settings already refused one key without the other, so the access key alone tells which case applies.
    """
    if settings.aws_access_key is None:
        return None, None
    return (f"{{{{{SETTINGS_SECRET}.aws_access_key}}}}", f"{{{{{SETTINGS_SECRET}.aws_secret_key}}}}")


def aws_stack_components(settings: Settings) -> list[ComponentSpec]:
    """The components of the AWS stack: S3 artifacts, the ECR registry, local image builds, and either the
    SageMaker orchestrator (AWS_RUN_MODE=orchestrator) or the local one with a SageMaker step operator for the
    training step (step_operator)."""
    missing = missing_aws_settings(settings)
    if missing:
        raise click.UsageError(
            f"Cannot register {AWS_STACK}; set these environment variables: {', '.join(missing)}."
        )
    key, secret = credential_references(settings)
    bucket = str(settings.aws_s3_bucket).strip().removeprefix("s3://").split("/", 1)[0]
    # ECR's registry is the host of a repository URI such as 123.dkr.ecr.eu-central-1.amazonaws.com/llm-twin.
    registry_host = str(settings.aws_ecr_repository).strip().split("/", 1)[0]
    artifacts = {
        "path": f"s3://{bucket}",
        "key": key,
        "secret": secret,
        "client_kwargs": {"region_name": settings.aws_region},
    }
    shared = [
        ComponentSpec("artifact_store", "s3-artifact-store", "s3", artifacts),
        ComponentSpec("container_registry", "ecr-registry", "aws", {"uri": registry_host}),
        ComponentSpec("image_builder", "local-image-builder", "local"),
    ]
    if settings.aws_run_mode == "step_operator":
        # The step operator's SDK session takes boto's chain, which `tools.aws` fills from settings.
        step_operator = {"role": settings.aws_arn_role, "bucket": bucket}
        return [
            *shared,
            ComponentSpec("orchestrator", LOCAL_ORCHESTRATOR, "local"),
            ComponentSpec("step_operator", STEP_OPERATOR, TWIN_STEP_OPERATOR_FLAVOR, step_operator),
        ]
    orchestrator = {
        "execution_role": settings.aws_arn_role,
        "scheduler_role": settings.aws_scheduler_role_arn or settings.aws_arn_role,
        "region": settings.aws_region,
        # Its pipeline definitions and step code go here too, instead of a default bucket found through STS.
        "bucket": bucket,
        "aws_access_key_id": key,
        "aws_secret_access_key": secret,
    }
    return [*shared, ComponentSpec("orchestrator", SAGEMAKER_ORCHESTRATOR, "sagemaker", orchestrator)]


def upsert_component(spec: ComponentSpec) -> None:
    """Create the component, or update its configuration in place when one of that name exists."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client, kind = Client(), StackComponentType(spec.kind)
    try:
        existing = client.get_stack_component(kind, spec.name, allow_name_prefix_match=False)
    except KeyError:
        present = {key: value for key, value in spec.configuration.items() if value is not None}
        client.create_stack_component(spec.name, spec.flavor, kind, present)
        return
    if existing.flavor_name != spec.flavor:
        raise click.ClickException(
            f"A {kind.value} named {spec.name!r} already exists with flavor {existing.flavor_name!r}; "
            f"delete it with `zenml {kind.value.replace('_', '-')} delete {spec.name}` and register again."
        )
    # None values remove keys (e.g. credentials no longer set); keys we do not manage keep the user's edits.
    client.update_stack_component(spec.name, kind, configuration=spec.configuration)


def register_twin_flavors() -> None:
    """Register the project's step operator flavor in the store, once."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client = Client()
    if client.list_flavors(name=TWIN_STEP_OPERATOR_FLAVOR, type=StackComponentType.STEP_OPERATOR).total:
        return
    client.create_flavor(
        source="tools.flavors.TwinSagemakerStepOperatorFlavor",
        component_type=StackComponentType.STEP_OPERATOR,
    )


def register_aws_stack(settings: Settings) -> None:
    """Register or refresh the AWS stack's components and the stack that combines them, in a ZenML server
    that SageMaker can reach."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from tools.aws import require_aws_integration, require_remote_store

    specs = aws_stack_components(settings)
    require_aws_integration()
    client = Client()
    require_remote_store(client)
    try:
        settings_secret()
    except LookupError as error:  # the settings were never exported: say what to run
        raise click.ClickException(str(error)) from error
    if any(spec.flavor == TWIN_STEP_OPERATOR_FLAVOR for spec in specs):
        register_twin_flavors()
    for spec in specs:
        upsert_component(spec)
    components: dict[StackComponentType, Any] = {StackComponentType(spec.kind): spec.name for spec in specs}
    # ZenML sets the secret's values as environment variables wherever a step of this stack runs, so the
    # steps on SageMaker read the exported settings as `get_settings()` reads a .env here.
    try:
        existing = client.get_stack(AWS_STACK, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(AWS_STACK, components, secrets=[SETTINGS_SECRET])
    else:
        # A mode switch drops the component the other mode used.
        components.setdefault(StackComponentType.STEP_OPERATOR, [])
        attached = set(existing.secrets)
        client.update_stack(
            AWS_STACK,
            component_updates=components,
            add_secrets=[SETTINGS_SECRET] if settings_secret().id not in attached else None,
        )


def settings_secret_values(settings: Settings) -> dict[str, str]:
    """The set fields of Settings as plain strings, the form a ZenML secret holds."""
    values: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value == "":
            continue
        if not isinstance(value, str | int | float | bool | Path):
            raise TypeError(f"Settings.{name} ({type(value).__name__}) has no string form for the secret.")
        values[name] = str(value)
    return values


def settings_secret() -> "SecretResponse":
    """The `settings` secret, matched by its exact name."""
    from zenml.client import Client

    try:
        return Client().get_secret(SETTINGS_SECRET, allow_partial_name_match=False)
    except KeyError as error:
        raise LookupError(
            f"No ZenML secret named {SETTINGS_SECRET!r}; run `poe export-settings-to-zenml` where .env is."
        ) from error


def export_settings(settings: Settings) -> None:
    """Create the `settings` secret, or replace its values so removed settings do not linger."""
    from zenml.client import Client

    values = settings_secret_values(settings)
    try:
        current = settings_secret()
    except LookupError:
        Client().create_secret(SETTINGS_SECRET, values)
        return
    stale = sorted(set(current.secret_values) - set(values))
    Client().update_secret(current.id, add_or_update_values=values, remove_values=stale or None)


def settings_from_zenml_secret() -> Settings:
    """Settings rebuilt from the `settings` secret, for steps running on a remote stack without a `.env`."""
    stored = settings_secret().secret_values
    # Only field names: other keys would reach BaseSettings' own options such as `_env_file`.
    values: dict[str, Any] = {key: value for key, value in stored.items() if key in Settings.model_fields}
    return Settings(**values)


@click.group("stack")
def stack() -> None:
    """Register the AWS stack and switch between it and the local one."""


@stack.command("register-aws")
def register_aws() -> None:
    """Register (or refresh) the SageMaker + S3 + ECR stack named aws-stack from the AWS_* settings."""
    settings = get_settings()
    register_aws_stack(settings)
    where = (
        "every step runs on SageMaker"
        if settings.aws_run_mode == "orchestrator"
        else "pipelines run here, the training step on SageMaker"
    )
    click.echo(f"Registered {AWS_STACK} ({where}); activate it with `poe set-aws-stack`.")
    if settings.aws_access_key is not None:
        click.echo(
            "Its components read the AWS keys from the secret that `poe export-settings-to-zenml` writes."
        )


def activate(name: str) -> None:
    """Make a registered stack the one pipelines run on."""
    from zenml.client import Client

    Client().activate_stack(name)
    click.echo(f"Active stack: {name}.")


@stack.command("set-local")
def set_local() -> None:
    """Run pipelines on the local orchestrator and artifact store again."""
    activate(LOCAL_STACK)


@stack.command("set-aws")
def set_aws() -> None:
    """Run pipelines on the registered AWS stack."""
    from zenml.client import Client

    from tools.aws import require_remote_store

    require_remote_store(Client())
    try:
        Client().get_stack(AWS_STACK, allow_name_prefix_match=False)
    except KeyError as error:
        message = f"{AWS_STACK} is not registered; run `poe register-aws-stack` first."
        raise click.ClickException(message) from error
    activate(AWS_STACK)


@click.command("export-settings-to-zenml")
def export_settings_command() -> None:
    """Store the set Settings fields as the ZenML secret `settings`, replacing earlier values."""
    export_settings(get_settings())
    click.echo(f"Exported settings to the ZenML secret {SETTINGS_SECRET!r}.")
