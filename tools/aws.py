"""What a run on the AWS stack needs before ZenML starts it: the integration installed, a ZenML server that
SageMaker can reach, the project's image in ECR, and the AWS keys from settings.

ZenML and boto3 are imported inside the functions, so that `--help` and local runs do not load them.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.clients import aws_client
from llm_engineering.infrastructure.settings import Settings

if TYPE_CHECKING:
    from zenml.client import Client
    from zenml.config import DockerSettings

INSTALL_AWS = 'pip install -c requirements.lock -e ".[aws]"'
# The SageMaker SDK's defaults file this project ships: its telemetry off. A user's own file (named by
# SAGEMAKER_USER_CONFIG_OVERRIDE, or at the SDK's default place) is used instead; see configure_sagemaker_sdk.
SAGEMAKER_DEFAULTS = Path(__file__).resolve().parents[1] / "configs" / "sagemaker" / "defaults.yaml"


def configure_sagemaker_sdk() -> None:
    """Point the SageMaker SDK at the project's defaults file when the user has none of their own (named by
    SAGEMAKER_USER_CONFIG_OVERRIDE, or at the SDK's default place), and quiet its v2 notice."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # read when sagemaker is first imported
    from sagemaker.config.config import _DEFAULT_USER_CONFIG_FILE_PATH

    if not Path(_DEFAULT_USER_CONFIG_FILE_PATH).expanduser().is_file():
        os.environ.setdefault("SAGEMAKER_USER_CONFIG_OVERRIDE", str(SAGEMAKER_DEFAULTS))


def require_aws_integration() -> None:
    """Refuse, with the command that fixes it, when ZenML's AWS or S3 integration lacks a package here."""
    from zenml.integrations.aws import AWSIntegration
    from zenml.integrations.s3 import S3Integration

    missing = [
        integration.NAME
        for integration in (AWSIntegration, S3Integration)
        if not integration.check_installation()
    ]
    if missing:
        raise click.ClickException(
            f"ZenML's {' and '.join(missing)} integration{'s are' if len(missing) > 1 else ' is'} not "
            "installed in this environment (sagemaker 2.x, s3fs, kubernetes and their pins); install the "
            f"aws extra: `{INSTALL_AWS}` (or `make install`)."
        )


def require_remote_store(client: "Client") -> None:
    """Refuse when this client's ZenML store is local: SageMaker jobs must reach the store to run steps."""
    if not client.zen_store.is_local_store():
        return
    where = client.zen_store.url
    raise click.ClickException(
        "The AWS stack runs steps on SageMaker, and those steps must reach the ZenML store; this client "
        f"uses a local one ({where}), which they cannot (a `zenml login --local` server counts as local "
        "too). Deploy a ZenML server on a host SageMaker can reach (`poe zenml-server-up` there, or ZenML "
        "Pro), connect to it with `poe zenml-server-connect --url URL`, then `poe register-aws-stack`."
    )


def image_uri(settings: Settings) -> str:
    """The project's image in ECR, e.g. `123456789012.dkr.ecr.eu-central-1.amazonaws.com/llm-twin:latest`."""
    repository = (settings.aws_ecr_repository or "").strip().rstrip("/")
    if "/" not in repository:
        raise TwinError(
            f"AWS_ECR_REPOSITORY={repository!r} is not an ECR repository URI "
            "(ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME); set it in .env."
        )
    return f"{repository}:{settings.aws_image_tag}"


def require_pushed_image(settings: Settings) -> str:
    """The image URI, once ECR confirms it holds that tag; otherwise an error that says how to push it."""
    from botocore.exceptions import BotoCoreError, ClientError

    image = image_uri(settings)
    repository = image.rsplit(":", 1)[0].split("/", 1)[1]
    try:
        aws_client(settings, "ecr").describe_images(
            repositoryName=repository, imageIds=[{"imageTag": settings.aws_image_tag}]
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise TwinError(f"ECR could not be asked for {image} ({code}: {error}).") from error
        raise TwinError(
            f"{image} is not in ECR ({code}). The CD workflow pushes it on every push to main; to push it by "
            f"hand: `aws ecr get-login-password --region {settings.aws_region} | docker login --username AWS "
            f"--password-stdin {image.split('/', 1)[0]}`, then `docker build -t {image} .` and "
            f"`docker push {image}`. Or set AWS_IMAGE_TAG to a tag that is there."
        ) from error
    except BotoCoreError as error:
        raise TwinError(
            f"ECR could not be reached ({error}); check the AWS credentials and AWS_REGION."
        ) from error
    return image


def remote_docker_settings(settings: Settings) -> "DockerSettings":
    """Run the steps in the pushed image as it is: it holds the code and every dependency, so nothing is built
    here (no Docker needed on this machine), and nothing of this checkout is uploaded for the steps to run
    instead (ZenML's default): a run is the code of a pushed commit."""
    from zenml.config import DockerSettings

    return DockerSettings(
        parent_image=require_pushed_image(settings),
        skip_build=True,
        allow_download_from_artifact_store=False,
        allow_download_from_code_repository=False,
    )


def export_aws_credentials(settings: Settings) -> None:
    """Give this process's AWS SDKs the stack's region, and its keys when the settings hold them, as the
    stack's own components use them: the step operator submits through a plain `boto3.Session()`, which would
    otherwise take whatever region and keys the shell has. With no keys in settings, boto's default chain
    (AWS_PROFILE, ~/.aws, a role) stays in charge."""
    os.environ["AWS_DEFAULT_REGION"] = settings.aws_region
    if settings.aws_access_key is not None and settings.aws_secret_key is not None:
        os.environ["AWS_ACCESS_KEY_ID"] = settings.aws_access_key.get_secret_value()
        os.environ["AWS_SECRET_ACCESS_KEY"] = settings.aws_secret_key.get_secret_value()


def remote_run_options(client: "Client") -> dict[str, Any]:
    """The options of a run on a stack whose steps leave this machine (SageMaker orchestrator or step
    operator): checked first, so that the run fails here with a reason rather than on SageMaker.

    The run is configured from the settings exported to ZenML, the ones its steps receive (the stack carries
    that secret), not from this machine's .env: a runner without one (GitHub Actions) starts the same run.
    """
    from tools.stack import settings_from_zenml_secret

    configure_sagemaker_sdk()
    require_aws_integration()
    require_remote_store(client)
    try:
        settings = settings_from_zenml_secret()
    except LookupError as error:
        raise TwinError(str(error)) from error
    export_aws_credentials(settings)
    return {"settings": {"docker": remote_docker_settings(settings)}}
