"""The main job runs the tasks' own commands in order, in one process, and stops at the first failure."""

from pathlib import Path

import click
from click.testing import CliRunner

from tools.quickstart import quickstart
from tools.run import CONFIGS


def stand_in_cli(calls: list[tuple[str, dict[str, object]]], failing: str | None = None) -> click.Group:
    """A CLI with the commands quickstart calls, recording each call with its options."""

    def command(name: str, *options: click.Option) -> click.Command:
        def callback(**given: object) -> None:
            calls.append((name, given))
            if name == failing:
                raise click.ClickException(f"{name} failed")

        return click.Command(name, callback=callback, params=list(options))

    config = click.Option(["--config"], type=click.Path(path_type=Path), default=None)
    root = click.Group("cli")
    for name in ("digital-data-etl", "feature-engineering", "generate-datasets", "training", "evaluating"):
        root.add_command(
            command(name, config, click.Option(["--no-cache"], is_flag=True)),
        )
    root.add_command(command("build-samples"))
    root.add_command(
        command(
            "ask",
            click.Option(["--in-process"], is_flag=True),
            click.Option(["--config", "config_path"], type=click.Path(path_type=Path), default=None),
        )
    )
    root.add_command(command("warehouse-summary"))
    root.add_command(command("feature-store-summary"))
    models = click.Group("models")
    models.add_command(command("models list"), "list")
    models.add_command(command("models evaluation"), "evaluation")
    root.add_command(models)
    root.add_command(quickstart)
    return root


def test_every_step_of_the_loop_runs_in_order_with_its_config() -> None:
    calls: list[tuple[str, dict[str, object]]] = []
    result = CliRunner().invoke(stand_in_cli(calls), ["quickstart"])
    assert result.exit_code == 0, result.output
    assert [name for name, _ in calls] == [
        "build-samples",
        "digital-data-etl",
        "feature-engineering",
        "generate-datasets",
        "generate-datasets",
        "training",
        "evaluating",
        "ask",
        "warehouse-summary",
        "feature-store-summary",
        "models list",
        "models evaluation",
    ]
    configs = [given["config"] for _, given in calls[1:7]]
    assert configs == [
        CONFIGS / name
        for name in (
            "digital_data_etl_iris_calder.yaml",
            "feature_engineering.yaml",
            "generate_instruct_datasets.yaml",
            "generate_preference_datasets.yaml",
            "training.yaml",
            "evaluating.yaml",
        )
    ]
    assert all(path.exists() for path in configs)  # type: ignore[union-attr]
    assert calls[7][1] == {"in_process": True, "config_path": CONFIGS / "inference.yaml"}
    assert all(given.get("no_cache") is False for _, given in calls[1:7])


def test_the_first_failure_stops_the_job() -> None:
    calls: list[tuple[str, dict[str, object]]] = []
    result = CliRunner().invoke(stand_in_cli(calls, failing="training"), ["quickstart"])
    assert result.exit_code == 1 and "training failed" in result.output
    assert [name for name, _ in calls][-1] == "training" and len(calls) == 6
