"""The main job: the whole loop on the bundled sample author, in one process.

The same commands as the separate tasks, invoked in order; one process saves each task's start (Python, ZenML,
torch and the models loaded again), about a minute of the main job. The first failure stops the job with its
one-line reason, as a failing task would.
"""

import click

from tools.run import CONFIGS

# (command, its options), in the order the loop needs them.
PIPELINE_RUNS = (
    ("digital-data-etl", "digital_data_etl_iris_calder.yaml"),
    ("feature-engineering", "feature_engineering.yaml"),
    ("generate-datasets", "generate_instruct_datasets.yaml"),
    ("generate-datasets", "generate_preference_datasets.yaml"),
    ("training", "training.yaml"),
    ("evaluating", "evaluating.yaml"),
)


@click.command("quickstart")
@click.pass_context
def quickstart(ctx: click.Context) -> None:
    """Run the whole loop on the bundled sample author: build the samples, crawl, build features and
    both datasets, train, evaluate, ask the twin, then print the warehouse, feature store and registry
    summaries."""
    root = ctx.find_root().command
    if not isinstance(root, click.Group):
        raise TypeError("quickstart must be a subcommand of the tools.run group")

    def run(name: str, **options: object) -> None:
        command = root
        for part in name.split():
            found = command.get_command(ctx, part) if isinstance(command, click.Group) else None
            if found is None:
                raise click.UsageError(f"No command {name!r}.")
            command = found
        click.secho(f"\n=> {name}", bold=True)
        ctx.invoke(command, **options)

    run("build-samples")
    for name, config in PIPELINE_RUNS:
        run(name, config=CONFIGS / config)
    run("ask", in_process=True, config_path=CONFIGS / "inference.yaml")
    run("warehouse-summary")
    run("feature-store-summary")
    run("models list")
    run("models evaluation")
