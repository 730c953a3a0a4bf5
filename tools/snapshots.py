"""Named ZenML snapshots of the pipelines, each compiled with its default run config, to start from ZenML.

What can start a snapshot depends on the stack and the server (see the README's "Keeping the twin current"):
on a stack with a deployer, open-source ZenML deploys it as an HTTP service whose invocations are runs (the
dashboard's Playground invokes it); only a server with a workload manager (ZenML Pro) runs a snapshot from
the dashboard or `zenml pipeline snapshot run`, and only one compiled on a remote stack with a Docker build.
"""

import importlib

import click

from tools.run import CONFIGS, PIPELINES

COMMANDS = {name.replace("_", "-"): name for name in PIPELINES}


def ways_to_start(name: str, pipeline: str, has_deployer: bool, runnable: bool) -> list[str]:
    """The commands that start the snapshot, given its stack and build."""
    ways = []
    if has_deployer:
        ways.append(f"deploy it: zenml pipeline snapshot deploy {name} -p {pipeline}")
    if runnable:
        ways.append(f"run it (ZenML Pro server): zenml pipeline snapshot run {name} -p {pipeline}")
    return ways or [
        "its stack has no deployer and it has no remote Docker build, so nothing in ZenML starts it; "
        "see the README's section on schedules and triggers"
    ]


@click.group("snapshots")
def snapshots() -> None:
    """ZenML snapshots of the pipelines, to deploy or run from ZenML."""


@snapshots.command("create")
@click.argument("pipelines", nargs=-1, type=click.Choice(sorted(COMMANDS)))
def create(pipelines: tuple[str, ...]) -> None:
    """Create, or replace, a snapshot named like each PIPELINE's command (every pipeline when none is named).

    Each is compiled on the active stack with the pipeline's default config, as `poe run-…` runs it.
    """
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from tools.pipeline_runs import remote_options, runs_on_sagemaker

    client = Client()
    # On the AWS stack a snapshot runs in the pushed image, as a run does (nothing is built).
    remote = remote_options(client) if runs_on_sagemaker(client.active_stack_model.components) else {}
    for name in pipelines or sorted(COMMANDS):
        key = COMMANDS[name]
        definition = getattr(importlib.import_module(f"pipelines.{key}"), key)
        configured = definition.with_options(config_path=str(CONFIGS / PIPELINES[key][0]), **remote)
        snapshot = configured.create_snapshot(name=name, description=PIPELINES[key][1], replace=True)
        click.echo(f"Snapshot {name!r} of pipeline {key!r}:")
        has_deployer = bool(snapshot.stack and snapshot.stack.components.get(StackComponentType.DEPLOYER))
        for way in ways_to_start(name, key, has_deployer, snapshot.runnable):
            click.echo(f"  {way}")
