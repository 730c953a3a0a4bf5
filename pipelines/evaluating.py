from zenml import pipeline
from zenml.client import Client

from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.domain.registry import Artifact
from steps.evaluating import evaluate_models, promote_if_better


@pipeline
def evaluating(config: EvaluationConfig = EvaluationConfig()) -> None:  # noqa: B008 - frozen default
    """Judge the newest model version against the served model and the base model; promote it only if better.

    Steps: evaluate_models (answers, LLM judge, reference metrics, retrieval hit@k, MRR) → promote_if_better.
    """
    report, _, _ = evaluate_models(
        config=config, instruct_datasets=Client().get_artifact_version(Artifact.INSTRUCT_DATASETS)
    )
    promote_if_better(evaluation_report=report)
