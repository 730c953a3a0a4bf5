"""`models push`: a registered version's merged model, with its card, to the Hugging Face Hub.

The training pipeline pushes by itself when `push_to_huggingface_hub: true`; this command pushes any
version later, e.g. the one evaluation promoted to production.
"""

import click

from llm_engineering.application.ports import ModelRegistry
from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.registry import Key, ModelVersion
from llm_engineering.infrastructure.hub import HubPublisher, HubRepo, PublishedCommit
from llm_engineering.infrastructure.training.model_card import ModelCard, publish_model
from tools.reporting import reported


def push_version(
    registry: ModelRegistry, version: str, repo_id: str, publisher: HubPublisher, private: bool = True
) -> tuple[ModelVersion, PublishedCommit]:
    """Push the merged model of `version` as `repo_id` and log `hub_url` / `hub_commit` on the version."""
    publisher.check(repo_id)
    target = registry.get(version)
    # Fetched from its uploaded copy when it was trained elsewhere (a SageMaker job).
    model_dir = registry.model_dir(target.number) if target.model_dir is not None else None
    if model_dir is None or not (model_dir / "config.json").is_file():
        raise RegistryError(
            f"{target.label} has no merged model on this machine "
            f"(logged model_dir: {model_dir}); push from the machine that trained it, or train again."
        )
    logged = target.metadata
    if Key.METHOD not in logged or Key.STAGES not in logged:
        raise RegistryError(
            f"{target.label} has no logged training method and stages, so its card "
            "cannot say how it was made; push a version the training pipeline registered."
        )
    prompt = logged.get(Key.SYSTEM_PROMPT)  # logged by training runs since pushes exist
    card = ModelCard(
        version=str(target.number),
        method=str(logged[Key.METHOD]),
        stages=logged[Key.STAGES],
        system_prompt=None if prompt is None else str(prompt),
        metrics=target.metrics,
    )
    published = publish_model(publisher, model_dir, HubRepo(repo_id, "model", private), card)
    registry.log_metadata(
        target.number, {Key.HUB_URL: published.repo_url, Key.HUB_COMMIT: published.commit_oid}
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
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        target, published = push_version(
            get_model_registry(), version, repo_id, get_hub_publisher(), private=not public
        )
    click.echo(
        f"{target.label} is at {published.repo_url} "
        f"(commit {published.commit_oid[:12]}, {published.files} files)."
    )
