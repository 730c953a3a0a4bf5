from zenml import pipeline

from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.domain.datasets import DatasetType
from llm_engineering.infrastructure.container import get_hub_publisher
from steps.datasets import (
    create_instruct_datasets,
    create_preference_datasets,
    push_to_huggingface,
    query_feature_store,
)


@pipeline
def generate_datasets(
    dataset_type: DatasetType = DatasetType.INSTRUCTION,
    push_to_huggingface_hub: bool = False,
    dataset_id: str | None = None,
    config: DatasetConfig = DatasetConfig(),  # noqa: B008 - frozen, so one shared default is safe
) -> None:
    """Build an instruction or preference dataset from the feature store.

    Steps: query_feature_store → create_{instruct,preference}_datasets → push_to_huggingface (when asked).
    A push that could not happen (no token, offline mode) stops the run here, before any generation.
    """
    dataset_id = dataset_id or f"llm-twin-{dataset_type}"
    if push_to_huggingface_hub:
        get_hub_publisher().check(dataset_id)
    cleaned_documents = query_feature_store()
    create = (
        create_instruct_datasets if dataset_type == DatasetType.INSTRUCTION else create_preference_datasets
    )
    datasets = create(cleaned_documents=cleaned_documents, config=config)
    if push_to_huggingface_hub:
        push_to_huggingface(datasets=datasets, dataset_id=dataset_id)
