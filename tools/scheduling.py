"""Pipelines on a schedule: a ZenML schedule where the active stack's orchestrator runs schedules (SageMaker
through EventBridge Scheduler, Kubernetes as CronJobs), otherwise a user crontab line or systemd timer here.

ZenML and the pipelines are imported inside the functions, so `--help` and the local path stay fast. The
ZenML side is a port (`OrchestratorSchedules`): tests pass a stand-in as the click context's object.
"""

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import click

from llm_engineering.domain.cron import Cron, parse_cron, to_eventbridge_cron
from llm_engineering.infrastructure.scheduling import (
    INSTALLERS,
    LocalJob,
    Report,
    local_installer,
    local_schedule_stores,
)
from tools.reporting import reported
from tools.run import CONFIGS, PIPELINES

REPO = Path(__file__).resolve().parents[1]


def standard_cron(cron: Cron) -> str:
    return cron.expression


# Orchestrator flavors that, in the installed ZenML (0.98), refuse schedules for dynamic pipelines, and the
# pipelines that are dynamic.
NO_DYNAMIC_SCHEDULES = {"sagemaker"}
DYNAMIC_PIPELINES = {"continuous_training"}

# Orchestrator flavors whose scheduler reads another cron dialect than the standard five fields.
CRON_DIALECTS: dict[str, Callable[[Cron], str]] = {"sagemaker": to_eventbridge_cron}


@dataclass(frozen=True)
class Orchestrator:
    name: str
    flavor: str
    schedulable: bool


@dataclass(frozen=True)
class StoredSchedule:
    """A schedule as the ZenML store records it."""

    name: str
    cron: str | None
    active: bool


class OrchestratorSchedules(Protocol):
    """Schedules that ZenML records and the active stack's orchestrator runs."""

    def active_orchestrator(self) -> Orchestrator: ...

    def create(self, pipeline: str, config: Path, name: str, cron_expression: str) -> None: ...

    def existing(self) -> list[StoredSchedule]: ...

    def delete(self, name: str) -> list[str] | None:
        """Notes on what is left to do, or None when no schedule has that name."""


class ZenMLSchedules:
    """The ZenML client's schedules, created by running a pipeline with a `Schedule`."""

    def active_orchestrator(self) -> Orchestrator:
        from zenml.client import Client

        orchestrator = Client().active_stack.orchestrator
        return Orchestrator(orchestrator.name, orchestrator.flavor, orchestrator.config.is_schedulable)

    def create(self, pipeline: str, config: Path, name: str, cron_expression: str) -> None:
        from zenml.client import Client
        from zenml.config.schedule import Schedule

        if Client().list_schedules(name=name).total:
            raise click.ClickException(
                f"A ZenML schedule named {name!r} exists; remove it with `poe schedules-delete {name}` first."
            )
        from tools.pipeline_runs import remote_options, runs_on_sagemaker

        client = Client()
        definition = getattr(importlib.import_module(f"pipelines.{pipeline}"), pipeline)
        schedule = Schedule(name=name, cron_expression=cron_expression)
        remote = remote_options(client) if runs_on_sagemaker(client.active_stack_model.components) else {}
        try:
            definition.with_options(config_path=str(config), schedule=schedule, **remote)()
        except BaseException:
            # ZenML records the schedule before the orchestrator takes it: one refused must not block a retry.
            # A record that already holds the orchestrator's schedule stays, for `schedules-delete` to remove.
            if client.list_schedules(name=name).total:
                recorded = client.get_schedule(name, allow_name_prefix_match=False)
                if not schedule_addresses(recorded.run_metadata):
                    client.delete_schedule(recorded.id)
            raise

    def existing(self) -> list[StoredSchedule]:
        from zenml.client import Client
        from zenml.utils.pagination_utils import depaginate

        return [
            StoredSchedule(item.name, item.cron_expression, item.active)
            for item in depaginate(Client().list_schedules)
        ]

    def delete(self, name: str) -> list[str] | None:
        from zenml.client import Client

        client = Client()
        try:
            schedule = client.get_schedule(name, allow_name_prefix_match=False)
        except KeyError:
            return None
        # ZenML 0.98's SageMaker orchestrator cannot delete its EventBridge schedule; it leaves the schedule's
        # address, from which the schedule and its pipeline are deleted here first: ZenML's record (and the
        # address with it) goes only once nothing is left running on AWS.
        notes = [
            delete_eventbridge_schedule(address) for address in schedule_addresses(schedule.run_metadata)
        ]
        client.delete_schedule(schedule.id)
        return notes


def schedule_addresses(metadata: dict[str, object]) -> list[str]:
    """The EventBridge schedule addresses (`…?region=REGION#schedules/GROUP/NAME`) ZenML recorded."""
    return [value for value in metadata.values() if isinstance(value, str) and "#schedules/" in value]


def delete_eventbridge_schedule(address: str) -> str:
    """Delete the EventBridge schedule at `address` and the SageMaker pipeline it starts; what was done."""
    from botocore.exceptions import ClientError

    from llm_engineering.domain.exceptions import TwinError
    from llm_engineering.infrastructure.aws.clients import aws_client
    from llm_engineering.infrastructure.aws.errors import aws_errors
    from llm_engineering.infrastructure.container import get_settings

    # The address ends in `#schedules/GROUP/NAME` (ZenML keeps the group the ARN names).
    group, _, name = address.rsplit("#schedules/", 1)[1].rpartition("/")
    region = parse_qs(urlsplit(address).query).get("region", [get_settings().aws_region])[0]
    settings = get_settings().model_copy(update={"aws_region": region})
    done = []
    for service, delete in (
        ("scheduler", lambda client: client.delete_schedule(Name=name, GroupName=group or "default")),
        ("sagemaker", lambda client: client.delete_pipeline(PipelineName=name)),
    ):
        hint = f"Check the credentials may delete it; the schedule stays recorded in ZenML at {address}."
        try:
            with aws_errors(f"Deleting {service} {name!r} in {region}", hint):
                try:
                    delete(aws_client(settings, service))
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") not in (
                        "ResourceNotFoundException",
                        "ResourceNotFound",
                    ):
                        raise
                    done.append(f"{service}: {name} was already gone")
                    continue
        except TwinError as error:
            raise click.ClickException(str(error)) from error
        else:
            done.append(f"{service}: deleted {name}")
    return f"On AWS ({region}): {'; '.join(done)}."


@dataclass(frozen=True)
class Ports:
    """What the commands act on: ZenML's schedules, and the home whose crontab and units hold local ones."""

    zenml: OrchestratorSchedules
    home: Path


def echo_report(report: Report) -> None:
    click.echo(report.summary)
    for line in report.lines:
        for part in line.splitlines():
            click.echo(f"  {part}")
    if report.to_do:
        click.echo("Still to run:")
        for command in report.to_do:
            click.echo(f"  {command}")
    if report.undo:
        click.echo(f"Remove it: {report.undo}.")


def local_job(pipeline: str, cron: Cron, config: Path | None) -> LocalJob:
    """The pipeline's command of this checkout, logging to DATA_DIR/logs/NAME.log."""
    from llm_engineering.infrastructure.container import get_settings

    log = get_settings().data_dir / "logs" / f"{pipeline}.log"
    log = log if log.is_absolute() else REPO / log
    log.parent.mkdir(parents=True, exist_ok=True)  # `>>` cannot create the folder
    python = Path(sys.executable)
    argv = (str(python.relative_to(REPO) if python.is_relative_to(REPO) else python), "-m", "tools.run")
    options = ("--config", str(config.resolve())) if config else ()
    return LocalJob(pipeline, cron, REPO, (*argv, pipeline, *options), log)


@click.group("schedules")
@click.pass_context
def schedules(context: click.Context) -> None:
    """Run pipelines on a schedule, list and delete the schedules."""
    if not isinstance(context.obj, Ports):
        context.obj = Ports(ZenMLSchedules(), Path.home())


@schedules.command("create")
@click.argument("pipeline", type=click.Choice([name.replace("_", "-") for name in PIPELINES]))
@click.option("--cron", "expression", required=True, help='Five-field cron expression, e.g. "0 3 * * *".')
@click.option(
    "--via",
    type=click.Choice(["zenml", *INSTALLERS]),
    default="auto",
    show_default=True,
    help="auto: a ZenML schedule if the orchestrator runs schedules, else the crontab, else a systemd "
    "timer, else print the crontab lines.",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Run config of the scheduled runs; default: the pipeline's own.",
)
@click.pass_obj
def create(ports: Ports, pipeline: str, expression: str, via: str, config: Path | None) -> None:
    """Run PIPELINE at the times the cron expression names (in the local time of where it runs)."""
    with reported():
        cron = parse_cron(expression)
        orchestrator = ports.zenml.active_orchestrator() if via in ("zenml", "auto") else None
        if orchestrator and (via == "zenml" or orchestrator.schedulable):
            create_in_zenml(ports.zenml, orchestrator, pipeline, cron, config)
            return
        echo_report(local_installer(via, ports.home).install(local_job(pipeline, cron, config)))


def create_in_zenml(
    zenml: OrchestratorSchedules, orchestrator: Orchestrator, pipeline: str, cron: Cron, config: Path | None
) -> None:
    if not orchestrator.schedulable:
        raise click.ClickException(
            f"The orchestrator {orchestrator.name!r} ({orchestrator.flavor}) cannot run schedules; leave "
            "out --via to install a crontab line or systemd timer here instead."
        )
    key = pipeline.replace("-", "_")
    if key in DYNAMIC_PIPELINES and orchestrator.flavor in NO_DYNAMIC_SCHEDULES:
        raise click.ClickException(
            f"ZenML's {orchestrator.flavor} orchestrator cannot schedule {key}, a dynamic pipeline. Run it "
            "on a schedule from GitHub Actions (.github/workflows/continuous-training.yml, see the README), "
            "or from this machine with --via cron or --via systemd."
        )
    expression = CRON_DIALECTS.get(orchestrator.flavor, standard_cron)(cron)
    zenml.create(key, config or CONFIGS / PIPELINES[key][0], pipeline, expression)
    click.echo(
        f"Created the ZenML schedule {pipeline!r} on {orchestrator.name} ({orchestrator.flavor}): cron "
        f"{expression!r}. `poe schedules-list` lists it; remove it with `poe schedules-delete {pipeline}`."
    )


@schedules.command("list")
@click.pass_obj
def list_schedules(ports: Ports) -> None:
    """Show the ZenML schedules and the ones installed on this machine."""
    with reported():
        stored = ports.zenml.existing()
        local = [item for store in local_schedule_stores(ports.home) for item in store.installed()]
    for item in stored:
        state = "active" if item.active else "inactive"
        click.echo(f"{item.name}  {item.cron or '-'}  ZenML schedule, {state}")
    for found in local:
        click.echo(f"{found.name}  {found.cron}  {found.via}: {found.where}")
    if not stored and not local:
        click.echo('No schedules; create one with `poe schedule-pipeline training --cron "0 3 * * 0"`.')


@schedules.command("delete")
@click.argument("name")
@click.pass_obj
def delete(ports: Ports, name: str) -> None:
    """Remove the schedule NAME wherever it is: the crontab, the systemd user units, ZenML."""
    with reported():
        reports = [report for store in local_schedule_stores(ports.home) if (report := store.remove(name))]
    for report in reports:
        echo_report(report)
    with reported():
        notes = ports.zenml.delete(name)
    if notes is not None:
        click.echo(f"Deleted the ZenML schedule {name!r}.")
        for note in notes:
            click.echo(note)
    if not reports and notes is None:
        raise click.ClickException(f"No schedule named {name!r}; `poe schedules-list` shows them.")
