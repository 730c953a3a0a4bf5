"""`models`: list the twin's versions, promote one, or roll production back (the registry is built by the
composition root; see `llm_engineering/infrastructure/model_registry.py`)."""

import click

from llm_engineering.domain.registry import TWIN_MODEL_NAME, Stage
from tools.reporting import reported


def format_metric(value: float) -> str:
    """Four decimals: the metrics are scores and rates."""
    return f"{value:.4f}"


@click.group("models")
def models() -> None:
    """List the twin's model versions, promote one, or roll production back."""


@models.command("list")
def list_command() -> None:
    """Show the versions of llm_twin, newest first, with stage and the metrics their evaluation logged."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        versions = get_model_registry().list_versions()
    if not versions:
        click.echo(f"No versions of {TWIN_MODEL_NAME} yet; the training pipeline registers them.")
        return
    for version in versions:
        metrics = ", ".join(f"{name}={format_metric(value)}" for name, value in version.metrics.items())
        created = version.created.strftime("%Y-%m-%d %H:%M")
        stage = version.stage or "none"
        click.echo(f"{version.number:>4}  {version.name:<24} {stage:<10} {created}  {metrics}".rstrip())


@models.command("promote")
@click.argument("version")
@click.option(
    "--stage", type=click.Choice([s.value for s in Stage]), required=True, help="Stage to move it to."
)
@click.option(
    "--reason", default="promoted from the command line", show_default=True, help="Why, for the record."
)
def promote_command(version: str, stage: str, reason: str) -> None:
    """Move VERSION (number or name) to a stage; the version holding that stage loses it."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        promoted = get_model_registry().promote(version, Stage(stage), reason)
    click.echo(f"{promoted.label} is now in {stage}.")


@models.command("rollback")
@click.option("--reason", default="rolled back from the command line", show_default=True, help="Why.")
def rollback_command(reason: str) -> None:
    """Put the version that production replaced back into production."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        restored = get_model_registry().rollback(reason)
    click.echo(f"{restored.label} ({restored.name}) is in production again.")
