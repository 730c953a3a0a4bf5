"""The LLM Twin command line: one subcommand per pipeline and maintenance job."""

import os
from pathlib import Path

import click

# Every command runs with ZenML's analytics off: its calls block on closed networks.
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CONFIGS = Path("configs")


def config_option(default: str) -> click.Option:
    return click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=CONFIGS / default,
        show_default=True,
        help="ZenML run config YAML (parameters and settings).",
    )


no_cache_option = click.option("--no-cache", is_flag=True, help="Run every step, ignoring ZenML's cache.")


@click.group()
def cli() -> None:
    """LLM Twin: crawl, featurize, train and serve a twin of one author's writing."""


@cli.command("digital-data-etl")
@config_option("digital_data_etl_iris_calder.yaml")
@no_cache_option
def digital_data_etl_command(config: Path, no_cache: bool) -> None:
    """Crawl an author's links into the warehouse."""
    from pipelines import digital_data_etl

    digital_data_etl.with_options(config_path=str(config), enable_cache=not no_cache)()


@cli.command("feature-engineering")
@config_option("feature_engineering.yaml")
@no_cache_option
def feature_engineering_command(config: Path, no_cache: bool) -> None:
    """Clean, chunk and embed the authors' documents into the feature store."""
    from pipelines import feature_engineering

    feature_engineering.with_options(config_path=str(config), enable_cache=not no_cache)()


@cli.command("generate-datasets")
@config_option("generate_instruct_datasets.yaml")
@no_cache_option
def generate_datasets_command(config: Path, no_cache: bool) -> None:
    """Build an instruction or preference dataset from the feature store with the configured LLM."""
    from pipelines import generate_datasets

    generate_datasets.with_options(config_path=str(config), enable_cache=not no_cache)()


@cli.command("end-to-end-data")
@config_option("end_to_end_data_iris_calder.yaml")
@no_cache_option
def end_to_end_data_command(config: Path, no_cache: bool) -> None:
    """Crawl, build features and both datasets for one author, in one pipeline run."""
    from pipelines import end_to_end_data

    end_to_end_data.with_options(config_path=str(config), enable_cache=not no_cache)()


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

    index = get_vector_index()
    for collection in [*CLEANED_COLLECTIONS.values(), *EMBEDDED_COLLECTIONS.values()]:
        try:
            click.echo(f"{collection}: {index.count(collection)} points")
        except CollectionNotFoundError:
            click.echo(f"{collection}: not created yet (run `poe run-feature-engineering-pipeline`)")


def main() -> None:
    from tools.data_warehouse import data_warehouse
    from tools.stack import export_settings_command, stack

    cli.add_command(data_warehouse, "data-warehouse")
    cli.add_command(stack)
    cli.add_command(export_settings_command)
    cli()


if __name__ == "__main__":
    main()
