import time
from typing import Annotated

from datasets import DatasetDict
from zenml import log_metadata, step
from zenml.integrations.huggingface.materializers.huggingface_datasets_materializer import (
    HFDatasetMaterializer,
)

from llm_engineering.application.datasets import DatasetConfig, generate_dataset
from llm_engineering.domain.datasets import DatasetType
from llm_engineering.domain.features import CleanedDocuments
from llm_engineering.infrastructure.container import get_chat_model
from llm_engineering.infrastructure.hf_datasets import to_dataset_dict
from llm_engineering.infrastructure.near_duplicates import near_duplicate_indices


def create(
    cleaned_documents: CleanedDocuments, dataset_type: DatasetType, config: DatasetConfig
) -> DatasetDict:
    """Generate a dataset and log its counts, filter losses, tokens, cost and throughput."""
    chat = get_chat_model()
    started = time.perf_counter()
    dataset, report = generate_dataset(
        cleaned_documents.documents, chat, dataset_type, config, near_duplicate_indices
    )
    seconds = time.perf_counter() - started
    samples = sum(sum(per_category.values()) for per_category in report.counts.values())
    metadata = {
        "model": chat.model_id,
        "passages": report.passages,
        "instructions_asked": report.instructions_asked,
        "first_try_parsed": report.first_try_parsed,
        "malformed": report.malformed,
        "filtered": report.filtered,
        "counts": report.counts,
        "usage": report.usage.model_dump(),
        "seconds": seconds,
        "samples_per_second": samples / seconds if seconds else 0.0,
    }
    log_metadata(metadata=metadata)
    log_metadata(metadata=metadata, infer_artifact=True)
    return to_dataset_dict(dataset)


@step(output_materializers=HFDatasetMaterializer)
def create_instruct_datasets(
    cleaned_documents: CleanedDocuments, config: DatasetConfig
) -> Annotated[DatasetDict, "instruct_datasets"]:
    """Instruction → the author's own passage, split into train and test."""
    return create(cleaned_documents, DatasetType.INSTRUCTION, config)


@step(output_materializers=HFDatasetMaterializer)
def create_preference_datasets(
    cleaned_documents: CleanedDocuments, config: DatasetConfig
) -> Annotated[DatasetDict, "preference_datasets"]:
    """Instruction → chosen (the author's passage) and rejected (a generic model answer)."""
    return create(cleaned_documents, DatasetType.PREFERENCE, config)
