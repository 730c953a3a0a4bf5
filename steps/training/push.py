from pathlib import Path

from zenml import get_step_context, log_metadata, step

from llm_engineering.domain.training import TrainingConfig, TrainingResult
from llm_engineering.infrastructure.container import get_hub_publisher
from llm_engineering.infrastructure.training.model_card import model_card


@step
def push_model_to_huggingface(training_result: TrainingResult, config: TrainingConfig, model_id: str) -> str:
    """Upload the merged model with its card to the Hub as `model_id`; returns the commit's id."""
    version = str(get_step_context().model.number)  # the version this run registers
    card = model_card(
        model_id,
        version,
        config.method,
        {stage: summary.model_dump() for stage, summary in training_result.stages.items()},
        metrics={},
        system_prompt=config.system_prompt,
    )
    published = get_hub_publisher().publish_folder(
        Path(training_result.model_dir),
        model_id,
        "model",
        f"LLM Twin version {version}",
        extra_files={"README.md": card.encode()},
    )
    metadata = {"hub_url": published.repo_url, "hub_commit": published.commit_oid}
    log_metadata(metadata=metadata)
    log_metadata(metadata=metadata, infer_model=True)
    return published.commit_oid
