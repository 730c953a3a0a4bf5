from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import refresh
from llm_engineering.domain.features import CleanedDocuments
from llm_engineering.domain.refresh import NEW_TRAIN_ROWS, RefreshConfig, RefreshPlan
from llm_engineering.domain.registry import Artifact
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.container import get_feedback_store
from llm_engineering.infrastructure.container.models import get_model_registry
from steps.continuous_training.lineage import documents_built_from, latest_artifact


# Never cached: it reads the stores as they are now.
@step(enable_cache=False)
def plan_refresh(
    cleaned_documents: CleanedDocuments, config: RefreshConfig, training: TrainingConfig
) -> Annotated[RefreshPlan, "refresh_plan"]:
    """Compare the feature store, the latest datasets and the feedback with what the newest version learned
    from, and decide what this run generates and trains."""
    instruct = latest_artifact(Artifact.INSTRUCT_DATASETS)
    preference = latest_artifact(Artifact.PREFERENCE_DATASETS)
    previous = documents_built_from(instruct) if instruct is not None else None
    previous_preference = documents_built_from(preference) if preference is not None else None
    latest = {a.name: str(a.id) for a in (instruct, preference) if a is not None}
    added = [a.run_metadata.get(NEW_TRAIN_ROWS) for a in (instruct, preference) if a is not None]
    new_train_rows = sum(added) if added and all(isinstance(n, int) for n in added) else None
    registry = get_model_registry()
    uses_feedback = training.use_feedback and "dpo" in training.stages
    plan = refresh.plan_refresh(
        cleaned_documents.documents,
        previous,
        latest,
        registry.list_versions(),
        registry.production(),
        get_feedback_store().rated_answers() if uses_feedback else [],
        training.feedback if uses_feedback else None,
        config,
        previous_preference=previous_preference,
        new_train_rows=new_train_rows,
    )
    log_metadata(
        metadata={
            "summary": plan.summary,
            **plan.model_dump(mode="json", exclude={"reasons"}, exclude_none=True),
        }
    )
    return plan
