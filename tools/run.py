"""The LLM Twin command line: one subcommand per pipeline and maintenance job."""

import os
import sys
from pathlib import Path

import click
from loguru import logger

from tools.reporting import reported

# Every command runs with ZenML's analytics off: its calls block on closed networks.
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# ZenML's SageMaker components load the sagemaker SDK 2.x, which otherwise prints a notice about its v3.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

CONFIGS = Path("configs")


@click.group()
def cli() -> None:
    """LLM Twin: crawl, featurize, train and serve a twin of one author's writing."""


# Each pipeline's subcommand: its default run config and what it does.
PIPELINES = {
    "digital_data_etl": ("digital_data_etl_iris_calder.yaml", "Crawl an author's links into the warehouse."),
    "feature_engineering": (
        "feature_engineering.yaml",
        "Clean, chunk and embed the authors' documents into the feature store.",
    ),
    "generate_datasets": (
        "generate_instruct_datasets.yaml",
        "Build an instruction or preference dataset from the feature store with the configured LLM.",
    ),
    "training": ("training.yaml", "Fine-tune the twin (SFT, then DPO) on the latest datasets."),
    "evaluating": (
        "evaluating.yaml",
        "Judge the newest model against production and the base model; promote it only if better.",
    ),
    "end_to_end_data": (
        "end_to_end_data_iris_calder.yaml",
        "Crawl, build features and both datasets for one author, in one pipeline run.",
    ),
    "continuous_training": (
        "continuous_training.yaml",
        "Refresh the twin from new writing and feedback: crawl, features, new samples, training, evaluation "
        "and gated promotion, doing only the work that changed.",
    ),
}


# Pipelines that build features, and the name of the FeatureConfig parameter that --allow-mass-removal sets.
FEATURE_CONFIG_PARAMETERS = {
    "feature_engineering": "config",
    "end_to_end_data": "features",
    "continuous_training": "features",
}
ALLOW_MASS_REMOVAL = click.option(
    "--allow-mass-removal",
    is_flag=True,
    help="Remove an author's documents from the feature store even beyond max_removal_share "
    "(when they were deleted from the warehouse on purpose).",
)


def add_pipeline_command(name: str, default_config: str, summary: str) -> None:
    """A subcommand that runs pipeline `name` with a ZenML run config (`--config`) and `--no-cache`.

    Before it starts, runs left "running" by a killed process are marked failed (see `tools.pipeline_runs`);
    a TwinError, raised before the run or by one of its steps, shows as one line.
    """

    @click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=CONFIGS / default_config,
        show_default=True,
        help="ZenML run config YAML (parameters and settings).",
    )
    @click.option("--no-cache", is_flag=True, help="Run every step, ignoring ZenML's cache.")
    def run_pipeline(config: Path, no_cache: bool, allow_mass_removal: bool = False) -> None:
        overrides = (
            {FEATURE_CONFIG_PARAMETERS[name]: {"allow_mass_removal": True}} if allow_mass_removal else {}
        )
        with reported():
            start_pipeline(name, config, not no_cache, overrides)

    if name in FEATURE_CONFIG_PARAMETERS:
        run_pipeline = ALLOW_MASS_REMOVAL(run_pipeline)
    cli.command(name.replace("_", "-"), help=summary)(run_pipeline)


def start_pipeline(
    name: str, config: Path, enable_cache: bool, parameters: dict[str, dict[str, object]]
) -> None:
    """Run pipeline `name` from its config, `parameters` over the config's, once stale runs are failed."""
    from zenml.client import Client

    import pipelines  # ZenML loads here, not for --help
    from tools.pipeline_runs import fail_interrupted_runs, quiet_step_errors, run_options

    fail_interrupted_runs(Client())
    with quiet_step_errors():
        getattr(pipelines, name).with_options(
            config_path=str(config), enable_cache=enable_cache, parameters=parameters, **run_options(Client())
        )()


for pipeline_name, (default_config, summary) in PIPELINES.items():
    add_pipeline_command(pipeline_name, default_config, summary)


@cli.command("export-dataset")
@click.argument("artifact", type=click.Choice(["instruct_datasets", "preference_datasets"]))
@click.option(
    "--format", "file_format", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Default: data/datasets/ARTIFACT.",
)
@click.option("--version", default=None, help="Artifact version; default: the latest.")
def export_dataset_command(artifact: str, file_format: str, out: Path | None, version: str | None) -> None:
    """Write a dataset artifact's splits to JSONL or Parquet files."""
    from zenml.client import Client

    from llm_engineering.infrastructure.container import get_settings
    from llm_engineering.infrastructure.hf_datasets import export_dataset_dict

    datasets = Client().get_artifact_version(artifact, version).load()
    folder = out or get_settings().data_dir / "datasets" / artifact
    for path in export_dataset_dict(datasets, folder, file_format):  # type: ignore[arg-type]
        click.echo(f"wrote {path}")


@cli.command("build-samples")
@click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("samples/iris-calder"),
    show_default=True,
)
def build_samples_command(samples: Path) -> None:
    """Turn the bundled sample corpus into crawlable sources (a git repository, a zip export)."""
    from llm_engineering.infrastructure.container import get_settings
    from llm_engineering.infrastructure.samples import build_sample_sources, sample_links

    sources = build_sample_sources(samples, get_settings().data_dir / "samples")
    click.echo("Sample sources ready; links:")
    for link in sample_links(sources):
        click.echo(f"  {link}")


@cli.command("warehouse-summary")
def warehouse_summary_command() -> None:
    """Show what the warehouse holds per author."""
    from llm_engineering.application.summary import summarize_warehouse
    from llm_engineering.infrastructure.container import get_warehouse

    with reported():
        summaries = summarize_warehouse(get_warehouse())
    if not summaries:
        click.echo("The warehouse is empty: run `poe run-digital-data-etl` first.")
    for summary in summaries:
        counts = ", ".join(f"{category}: {count}" for category, count in summary.documents.items())
        click.echo(f"{summary.full_name}: {counts}; {summary.characters:,} characters")


@cli.command("feature-store-summary")
def feature_store_summary_command() -> None:
    """Show how many points each feature store collection holds."""
    from llm_engineering.domain.exceptions import CollectionNotFoundError
    from llm_engineering.domain.features import CLEANED_COLLECTIONS, EMBEDDED_COLLECTIONS
    from llm_engineering.infrastructure.container import get_vector_index

    with reported():
        index = get_vector_index()
        for collection in [*CLEANED_COLLECTIONS.values(), *EMBEDDED_COLLECTIONS.values()]:
            try:
                click.echo(f"{collection}: {index.count(collection)} points")
            except CollectionNotFoundError:
                click.echo(f"{collection}: not created yet (run `poe run-feature-engineering-pipeline`)")


def full_cli() -> click.Group:
    """The command line with every group added (their modules load here, not for the pipeline commands)."""
    from tools.data_warehouse import data_warehouse
    from tools.deploy import deploy
    from tools.ml_service import ask, serve
    from tools.publish import push_command
    from tools.quickstart import quickstart
    from tools.registry import models
    from tools.scheduling import schedules
    from tools.snapshots import snapshots
    from tools.stack import export_settings_command, stack
    from tools.zenml_server import zenml_server

    cli.add_command(data_warehouse, "data-warehouse")
    models.add_command(push_command)
    cli.add_command(models)
    cli.add_command(deploy)
    cli.add_command(stack)
    cli.add_command(zenml_server)
    cli.add_command(export_settings_command)
    cli.add_command(serve)
    cli.add_command(ask)
    cli.add_command(schedules)
    cli.add_command(snapshots)
    cli.add_command(quickstart)
    return cli


def main() -> None:
    # loguru's default shows DEBUG, where failures keep their tracebacks: a command shows INFO and up,
    # one line per event, unless LOGURU_LEVEL=DEBUG asks for everything.
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("LOGURU_LEVEL", "INFO"))
    full_cli()()


if __name__ == "__main__":
    main()
