"""`models push`: a registered version's merged model, with its card, to the Hugging Face Hub.

The training pipeline pushes by itself when `push_to_huggingface_hub: true`; this command pushes any
version later, e.g. the one evaluation promoted to production.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.infrastructure.hub import HubPublisher, HubRepo, PublishedCommit
from llm_engineering.infrastructure.training.model_card import ModelCard, publish_model
from tools.registry import METRIC_KEYS, MODEL_NAME, get_version, model_dir_of
from tools.reporting import reported

if TYPE_CHECKING:
    from zenml.models import ModelVersionResponse


def push_version(
    version: str, repo_id: str, publisher: HubPublisher, private: bool = True
) -> tuple["ModelVersionResponse", PublishedCommit]:
    """Push the merged model of `version` as `repo_id` and log `hub_url` / `hub_commit` on the version."""
    from zenml import log_metadata

    publisher.check(repo_id)
    target = get_version(version)
    model_dir = model_dir_of(target)
    if model_dir is None or not (model_dir / "config.json").is_file():
        raise RegistryError(
            f"{MODEL_NAME} version {target.number} has no merged model on this machine "
            f"(logged model_dir: {model_dir}); push from the machine that trained it, or train again."
        )
    logged: dict[str, Any] = dict(target.run_metadata)
    if "method" not in logged or "stages" not in logged:
        raise RegistryError(
            f"{MODEL_NAME} version {target.number} has no logged training method and stages, so its card "
            "cannot say how it was made; push a version the training pipeline registered."
        )
    prompt = logged.get("system_prompt")  # logged by training runs since pushes exist
    card = ModelCard(
        version=str(target.number),
        method=str(logged["method"]),
        stages=logged["stages"],
        system_prompt=None if prompt is None else str(prompt),
        metrics={key: logged[key] for key in METRIC_KEYS if key in logged},
    )
    published = publish_model(publisher, Path(model_dir), HubRepo(repo_id, "model", private), card)
    log_metadata(
        metadata={"hub_url": published.repo_url, "hub_commit": published.commit_oid},
        model_version_id=target.id,
    )
    return target, published


@click.command("push")
@click.argument("version")
@click.option("--repo-id", required=True, help="Hub repository, e.g. your-name/llm-twin.")
@click.option("--public", is_flag=True, help="Create the repository public (default: private).")
def push_command(version: str, repo_id: str, public: bool) -> None:
    """Push VERSION's merged model and card to the Hugging Face Hub (needs HUGGINGFACE_ACCESS_TOKEN and
    HF_HUB_OFFLINE=0)."""
    from llm_engineering.infrastructure.container import get_hub_publisher

    with reported():
        target, published = push_version(version, repo_id, get_hub_publisher(), private=not public)
    click.echo(
        f"{MODEL_NAME} version {target.number} is at {published.repo_url} "
        f"(commit {published.commit_oid[:12]}, {published.files} files)."
    )
