from datasets import DatasetDict
from zenml import log_metadata, step

from llm_engineering.infrastructure.container import get_hub_publisher
from llm_engineering.infrastructure.hf_datasets import push_to_hub


@step
def push_to_huggingface(datasets: DatasetDict, dataset_id: str) -> None:
    """Upload the datasets to the Hugging Face Hub under `dataset_id` and record where they went."""
    published = push_to_hub(datasets, dataset_id, get_hub_publisher())
    log_metadata(metadata={"hub_url": published.repo_url, "hub_commit": published.commit_oid})
