from typing import Annotated

from zenml import get_step_context, log_metadata, step

from llm_engineering.domain.registry import Key
from llm_engineering.domain.training import TrainingConfig, TrainingResult
from llm_engineering.infrastructure.container import get_hub_publisher
from llm_engineering.infrastructure.container.models import get_model_registry
from llm_engineering.infrastructure.hub import HubRepo
from llm_engineering.infrastructure.training.model_card import ModelCard, publish_model


@step
def push_model_to_huggingface(
    training_result: TrainingResult, config: TrainingConfig, model_id: str
) -> Annotated[str, "hub_commit"]:
    """Upload the merged model with its card to the Hub as `model_id`; returns the commit's id."""
    card = ModelCard(
        version=str(get_step_context().model.number),  # the version this run registers
        method=config.method,
        stages={stage: summary.model_dump() for stage, summary in training_result.stages.items()},
        system_prompt=config.system_prompt,
    )
    # The registry's folder of this version: the training step's own, or, when that step ran in a SageMaker
    # job whose disk is gone, the copy it uploaded, fetched here.
    model_dir = get_model_registry().model_dir(get_step_context().model.number)
    published = publish_model(get_hub_publisher(), model_dir, HubRepo(model_id, "model"), card)
    metadata = {Key.HUB_URL: published.repo_url, Key.HUB_COMMIT: published.commit_oid}
    log_metadata(metadata=metadata)
    log_metadata(metadata=metadata, infer_model=True)
    return published.commit_oid
