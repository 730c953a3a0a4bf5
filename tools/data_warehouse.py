"""Move the warehouse in and out of JSON files: back it up, share it, or migrate a handbook export."""

from pathlib import Path

import click
from loguru import logger

from tools.reporting import reported

DEFAULT_DATA_DIR = Path("data/warehouse_export")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder of the JSON files, one per collection.",
)


@click.group("data_warehouse")
def data_warehouse() -> None:
    """Export the warehouse to JSON, or import such an export (ours or the LLM Engineer's Handbook's)."""


@data_warehouse.command("export")
@data_dir_option
def export_command(data_dir: Path) -> None:
    """Write users, articles, posts and repositories to one JSON file each."""
    from llm_engineering.infrastructure.container import get_warehouse
    from llm_engineering.infrastructure.warehouse.files import export_warehouse

    with reported():
        counts = export_warehouse(get_warehouse(), data_dir)
    summary = ", ".join(f"{count} {category.value}" for category, count in counts.items())
    logger.info("Exported {} to {}", summary, data_dir)


@data_warehouse.command("import")
@data_dir_option
def import_command(data_dir: Path) -> None:
    """Add an export's users and documents to the warehouse by id; a link already stored is skipped."""
    from llm_engineering.infrastructure.container import get_warehouse
    from llm_engineering.infrastructure.warehouse.files import import_warehouse

    with reported():
        counts = import_warehouse(get_warehouse(), data_dir)
    summary = ", ".join(
        f"{category.value}: {count.imported} imported, {count.skipped} skipped"
        for category, count in counts.items()
    )
    logger.info("Imported {}: {}", data_dir, summary)


if __name__ == "__main__":
    data_warehouse()
