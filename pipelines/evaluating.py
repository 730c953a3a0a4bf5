from zenml import pipeline
from zenml.client import Client

from llm_engineering.application.evaluation_setup import EvaluationConfig
from steps.evaluating import evaluate_models, promote_if_better


@pipeline
def evaluating(config: EvaluationConfig = EvaluationConfig()) -> None:  # noqa: B008 - frozen default
    """Judge the newest model version against production and the base model; promote it only if better.

    Steps: evaluate_models (answers, LLM judge, ROUGE-L, BLEU, retrieval hit@k and MRR) → promote_if_better.
    """
    report, _, _, candidate_version = evaluate_models(
        config=config, instruct_datasets=Client().get_artifact_version("instruct_datasets")
    )
    promote_if_better(evaluation_report=report, candidate_version=candidate_version)
