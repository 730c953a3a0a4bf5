from typing import Annotated

from datasets import DatasetDict
from zenml import log_metadata, step
from zenml.integrations.huggingface.materializers.huggingface_datasets_materializer import (
    HFDatasetMaterializer,
)

from llm_engineering.application import refresh
from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.domain.datasets import DatasetType
from llm_engineering.domain.features import CleanedDocuments
from llm_engineering.domain.refresh import NEW_TRAIN_ROWS, RefreshConfig, RefreshPlan
from llm_engineering.domain.registry import Artifact
from llm_engineering.infrastructure.container import get_chat_model
from llm_engineering.infrastructure.hf_datasets import from_dataset_dict, to_dataset_dict
from llm_engineering.infrastructure.near_duplicates import near_duplicate_indices
from steps.continuous_training.lineage import latest_artifact, sources_input


def _refreshed(
    documents: CleanedDocuments,
    plan: RefreshPlan,
    dataset_type: DatasetType,
    config: DatasetConfig,
    refresh_config: RefreshConfig,
) -> tuple[DatasetDict, DatasetDict]:
    """The merged dataset and the new samples (train: the new ones, test: the merged test split)."""
    artifact = latest_artifact(
        Artifact.INSTRUCT_DATASETS
        if dataset_type is DatasetType.INSTRUCTION
        else Artifact.PREFERENCE_DATASETS
    )
    instruction = dataset_type is DatasetType.INSTRUCTION
    # A dataset whose sources were not recorded is built again from every document, not merged into.
    known = artifact is not None and sources_input(artifact) is not None
    previous = from_dataset_dict(artifact.load(), dataset_type) if known and artifact is not None else None
    merged, new_train, generation, merge = refresh.refresh_dataset(
        documents.documents,
        plan.changes if instruction else plan.preference_changes,
        previous,
        get_chat_model(),
        dataset_type,
        config,
        near_duplicate_indices,
        refresh_config.decontamination_ngram,
    )
    log_metadata(
        metadata={
            str(dataset_type): {
                "previous_version": str(artifact.id) if artifact is not None and previous else "none",
                "merge": merge.model_dump(),
                "generation": generation.model_dump(),
                "counts": merged.counts(),
            }
        }
    )
    # On the merged dataset: a version made from it has nothing more to learn than these rows (see the plan).
    name = Artifact.INSTRUCT_DATASETS if instruction else Artifact.PREFERENCE_DATASETS
    log_metadata(metadata={NEW_TRAIN_ROWS: len(new_train)}, artifact_name=name, infer_artifact=True)
    delta = type(merged)(train=new_train, test=merged.test)  # type: ignore[arg-type]
    return to_dataset_dict(merged), to_dataset_dict(delta)


@step(enable_cache=False, output_materializers=HFDatasetMaterializer)
def refresh_datasets(
    cleaned_documents: CleanedDocuments,
    plan: RefreshPlan,
    instruct: DatasetConfig,
    preference: DatasetConfig,
    config: RefreshConfig,
) -> tuple[
    Annotated[DatasetDict, "instruct_datasets"],
    Annotated[DatasetDict, "preference_datasets"],
    Annotated[DatasetDict, "new_instruct_samples"],
    Annotated[DatasetDict, "new_preference_samples"],
]:
    """Samples for the new and changed documents only, merged into the latest datasets (without the samples
    of changed or removed documents) and decontaminated against the merged test split; also the new train
    samples alone, with that test split, for training that continues from production."""
    instruct_merged, instruct_new = _refreshed(
        cleaned_documents, plan, DatasetType.INSTRUCTION, instruct, config
    )
    preference_merged, preference_new = _refreshed(
        cleaned_documents, plan, DatasetType.PREFERENCE, preference, config
    )
    return instruct_merged, preference_merged, instruct_new, preference_new
