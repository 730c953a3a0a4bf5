from pathlib import Path
from typing import Any

from zenml import Model, pipeline
from zenml.client import Client

from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.features import FeatureConfig
from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.refresh import RefreshConfig, stages_to_train
from llm_engineering.domain.registry import TWIN_MODEL_NAME, Artifact
from llm_engineering.domain.training import TrainingConfig
from steps.continuous_training import plan_refresh, refresh_datasets, report_refresh
from steps.datasets import query_feature_store
from steps.etl import crawl_links, get_or_create_user
from steps.evaluating import evaluate_models, promote_if_better
from steps.feature_engineering import (
    chunk_and_embed,
    clean_documents,
    load_to_vector_db,
    query_data_warehouse,
)
from steps.training import train_model, training_runtime, training_step_operator


def by_name(outputs: Any) -> dict[str, Any]:
    """A dynamic step's outputs by name: their tuple's order is not the step's for every step."""
    return {output.output_name: output for output in outputs}


TWIN = Model(name=TWIN_MODEL_NAME, description="The author's writing twin.", tags=["llm-twin"])


# Dynamic: what runs after the plan depends on what it found, so a run with nothing new creates no model
# version and trains nothing.
@pipeline(dynamic=True, enable_cache=False)
def continuous_training(
    user_full_name: str,
    links: list[str],
    crawl: CrawlConfig = CrawlConfig(),  # noqa: B008 - frozen defaults are safe to share
    max_failure_rate: float = 0.2,
    features: FeatureConfig = FeatureConfig(),  # noqa: B008
    instruct: DatasetConfig = DatasetConfig(),  # noqa: B008
    preference: DatasetConfig = DatasetConfig(),  # noqa: B008
    refresh: RefreshConfig = RefreshConfig(),  # noqa: B008
    training: TrainingConfig = TrainingConfig(),  # noqa: B008
    evaluation: EvaluationConfig = EvaluationConfig(),  # noqa: B008
) -> None:
    """Keep the twin current, doing only the work that changed.

    Steps: get_or_create_user → crawl_links (links already stored are skipped) → query_data_warehouse →
    clean_documents → chunk_and_embed → load_to_vector_db (only new or changed documents are embedded) →
    query_feature_store → plan_refresh; then, as the plan says: refresh_datasets (samples for new or changed
    documents merged into the latest datasets) → train_model (SFT and DPO, or DPO alone on new feedback; a new
    model version) → evaluate_models → promote_if_better; and always report_refresh (the run report).
    """
    user = get_or_create_user(user_full_name=user_full_name)
    crawl_links(user=user, links=links, crawl=crawl, max_failure_rate=max_failure_rate)
    raw = query_data_warehouse(author_full_names=[user_full_name])
    cleaned = clean_documents(raw_documents=raw)
    embedded = chunk_and_embed(raw_documents=raw, cleaned_documents=cleaned, config=features)
    load_to_vector_db(cleaned_documents=cleaned, embedded_documents=embedded)
    documents = query_feature_store()
    plan_artifact = plan_refresh(cleaned_documents=documents, config=refresh, training=training)
    plan = plan_artifact.load()
    if plan.nothing_new:
        report_refresh(plan=plan_artifact)
        return

    client = Client()
    if plan.generate:
        refreshed = by_name(
            refresh_datasets(
                cleaned_documents=documents,
                plan=plan_artifact,
                instruct=instruct,
                preference=preference,
                config=refresh,
            )
        )
        instruct_all, preference_all = refreshed["instruct_datasets"], refreshed["preference_datasets"]
        instruct_new, preference_new = refreshed["new_instruct_samples"], refreshed["new_preference_samples"]
    else:
        instruct_all = instruct_new = client.get_artifact_version(Artifact.INSTRUCT_DATASETS)
        preference_all = preference_new = client.get_artifact_version(Artifact.PREFERENCE_DATASETS)
    continuing = plan.base_model_dir is not None
    sft_data, dpo_data = (instruct_new, preference_new) if continuing else (instruct_all, preference_all)
    train_rows = {"sft": len(sft_data.load()["train"]), "dpo": len(dpo_data.load()["train"])}
    stages = list(stages_to_train(plan, training.stages, train_rows))
    if not stages:
        report_refresh(plan=plan_artifact, train_rows=train_rows)
        return
    config = training.model_copy(
        update={
            "stages": stages,
            "base_model_dir": Path(plan.base_model_dir) if continuing else training.base_model_dir,
        }
    )
    trained = train_model.with_options(
        model=TWIN, step_operator=training_step_operator(), runtime=training_runtime()
    )(
        config=config,
        instruct_datasets=sft_data,
        preference_datasets=dpo_data,
        datasets={a.artifact.name: str(a.id) for a in (instruct_all, preference_all)},
    )
    result = by_name(trained)["training_result"]
    report = by_name(evaluate_models(config=evaluation, instruct_datasets=instruct_all))["evaluation_report"]
    promoted = promote_if_better(evaluation_report=report)
    report_refresh(
        plan=plan_artifact,
        train_rows=train_rows,
        training_result=result,
        evaluation_report=report,
        promoted=promoted,
    )
