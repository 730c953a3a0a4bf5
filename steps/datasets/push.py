from datasets import DatasetDict
from zenml import step

from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.hf_datasets import push_to_hub


@step
def push_to_huggingface(datasets: DatasetDict, dataset_id: str) -> None:
    """Upload the datasets to the Hugging Face Hub under `dataset_id`."""
    push_to_hub(datasets, dataset_id, get_settings().huggingface_access_token)
