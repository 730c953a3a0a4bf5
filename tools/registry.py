"""The model registry: versions of the twin in ZenML's model control plane, their stages and rollbacks.

A promotion to production records on the promoted version who did it, when, why, and which version
held production before (`previous_production`); a rollback follows that record one step back.
ZenML is imported inside the functions so that `--help` and unrelated commands stay fast.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from loguru import logger

from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.training import TWIN_MODEL_NAME
from tools.reporting import reported

if TYPE_CHECKING:
    from zenml.metadata.metadata_types import MetadataType
    from zenml.models import ModelVersionResponse

MODEL_NAME = TWIN_MODEL_NAME
PROMOTION_STAGES = ("staging", "production")
METRIC_KEYS = ("judge_score", "rouge_l", "bleu")
PREVIOUS_PRODUCTION = "previous_production"
MODEL_DIR = "model_dir"


@dataclass(frozen=True)
class VersionSummary:
    """One row of `models list`: a version, its stage and the metrics it was logged with."""

    number: int
    name: str
    stage: str
    created: datetime
    metrics: "dict[str, MetadataType]"


def get_version(version: "str | int") -> "ModelVersionResponse":
    """A version of the twin by number (`3`, `"3"`) or by name; raises RegistryError when absent."""
    from zenml.client import Client

    # Digits mean a number, as `models list` shows it; ZenML names versions by their number by default.
    key: str | int = int(version) if isinstance(version, int) or version.isdigit() else version
    try:
        return Client().get_model_version(MODEL_NAME, key)
    except KeyError as error:
        raise RegistryError(
            f"{MODEL_NAME} has no version {version!r}; `python -m tools.run models list` shows them."
        ) from error


def summarize(version: "ModelVersionResponse") -> VersionSummary:
    """A hydrated version as a list row; metrics in METRIC_KEYS order, absent ones left out."""
    logged = version.run_metadata
    return VersionSummary(
        number=version.number,
        name=str(version.name),
        stage=version.stage or "none",
        created=version.created,
        metrics={key: logged[key] for key in METRIC_KEYS if key in logged},
    )


def latest_version() -> "ModelVersionResponse":
    """The newest version of the twin: what the last training run made."""
    from zenml.client import Client
    from zenml.enums import ModelStages

    try:
        return Client().get_model_version(MODEL_NAME, ModelStages.LATEST)
    except KeyError as error:
        raise RegistryError(f"{MODEL_NAME} has no version yet; run the training pipeline first.") from error


def list_versions() -> list[VersionSummary]:
    """Every version of the twin, newest first, with its stage and key metrics."""
    from zenml.client import Client
    from zenml.utils.pagination_utils import depaginate

    versions = depaginate(Client().list_model_versions, model=MODEL_NAME, sort_by="desc:number", hydrate=True)
    return [summarize(version) for version in versions]


def production_version() -> "ModelVersionResponse | None":
    """The version serving in production, or None while no version has been promoted to it."""
    from zenml.client import Client

    try:
        return Client().get_model_version(MODEL_NAME, "production")
    except KeyError:
        return None


def record(version: "ModelVersionResponse", values: dict[str, str | int]) -> None:
    """Log `values` on the version, with the ZenML user and the UTC time of the change."""
    from zenml import log_metadata
    from zenml.client import Client

    stamp = {"promoted_by": Client().active_user.name, "promoted_at": datetime.now(UTC).isoformat()}
    log_metadata(metadata={**stamp, **values}, model_version_id=version.id)


def promote(version: str | int, stage: str, reason: str) -> None:
    """Move a version to `stage`; the version holding it before loses it (ZenML archives that one)."""
    if stage not in PROMOTION_STAGES:
        raise RegistryError(f"Cannot promote to {stage!r}; choose one of {', '.join(PROMOTION_STAGES)}.")
    target = get_version(version)
    values: dict[str, str | int] = {"promoted_to": stage, "promotion_reason": reason}
    current = production_version() if stage == "production" else None
    if current is not None and current.id != target.id:
        values[PREVIOUS_PRODUCTION] = current.number
    target.set_stage(stage, force=True)
    record(target, values)
    logger.info(f"{MODEL_NAME} version {target.number} ({target.name}) is now in {stage}: {reason}")


def rollback(reason: str = "rollback") -> "ModelVersionResponse":
    """Give production back to the version the current one replaced; returns that version."""
    current = production_version()
    if current is None:
        raise RegistryError(f"No version of {MODEL_NAME} is in production, so there is nothing to roll back.")
    previous = current.run_metadata.get(PREVIOUS_PRODUCTION)
    if previous is None:
        raise RegistryError(
            f"Version {current.number} of {MODEL_NAME} has no recorded previous production version; "
            "promote the version you want with `models promote VERSION --stage production`."
        )
    target = get_version(str(previous))
    target.set_stage("production", force=True)
    # The target keeps its own `previous_production`, so a second rollback steps further back.
    record(
        target, {"promoted_to": "production", "promotion_reason": reason, "rolled_back_from": current.number}
    )
    logger.info(f"{MODEL_NAME} rolled back from version {current.number} to {target.number}")
    return target


def model_dir_of(version: "str | int | ModelVersionResponse") -> Path | None:
    """The merged model folder logged on a version as `model_dir`, or None when none was logged."""
    # A response handed in may predate the metadata, so the version is always read afresh.
    found = get_version(version if isinstance(version, str | int) else version.number)
    value = found.run_metadata.get(MODEL_DIR)
    return None if value is None else Path(str(value))


def format_metric(value: "MetadataType") -> str:
    """Floats to four decimals; everything else as logged."""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@click.group("models")
def models() -> None:
    """List the twin's model versions, promote one, or roll production back."""


@models.command("list")
def list_command() -> None:
    """Show the versions of llm_twin, newest first, with stage and metrics."""
    summaries = list_versions()
    if not summaries:
        click.echo(f"No versions of {MODEL_NAME} yet; the training pipeline registers them.")
        return
    for summary in summaries:
        metrics = ", ".join(f"{key}={format_metric(value)}" for key, value in summary.metrics.items())
        created = summary.created.strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{summary.number:>4}  {summary.name:<24} {summary.stage:<10} {created}  {metrics}".rstrip()
        )


@models.command("promote")
@click.argument("version")
@click.option("--stage", type=click.Choice(PROMOTION_STAGES), required=True, help="Stage to move it to.")
@click.option(
    "--reason", default="promoted from the command line", show_default=True, help="Why, for the record."
)
def promote_command(version: str, stage: str, reason: str) -> None:
    """Move VERSION (number or name) to a stage; the version holding that stage loses it."""
    with reported():
        promote(version, stage, reason)
    click.echo(f"{MODEL_NAME} version {version} is now in {stage}.")


@models.command("rollback")
@click.option("--reason", default="rolled back from the command line", show_default=True, help="Why.")
def rollback_command(reason: str) -> None:
    """Put the version that production replaced back into production."""
    with reported():
        restored = rollback(reason)
    click.echo(f"{MODEL_NAME} version {restored.number} ({restored.name}) is in production again.")
