from typing import Annotated

from datasets import Dataset, DatasetDict
from zenml import log_metadata, step
from zenml.integrations.huggingface.materializers.huggingface_datasets_materializer import (
    HFDatasetMaterializer,
)
from zenml.types import HTMLString

from llm_engineering.application import evaluating
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.infrastructure.container.models import evaluation_setup
from llm_engineering.infrastructure.plots import comparison_plot, html_page


@step(enable_cache=False, output_materializers={"evaluation_results": HFDatasetMaterializer})
def evaluate_models(
    config: EvaluationConfig, instruct_datasets: DatasetDict
) -> tuple[
    Annotated[evaluating.EvaluationReport, "evaluation_report"],
    Annotated[Dataset, "evaluation_results"],
    Annotated[HTMLString, "evaluation_summary"],
]:
    """Answer the test split with the newest version, the served model and the base model; judge, score,
    compare, and log the newest version's metrics on it. The report names the version it evaluated."""
    test = instruct_datasets["test"]
    samples = list(zip(test["instruction"], test["output"], strict=True))
    report = evaluating.evaluate_candidate(evaluation_setup(config), samples, config)
    log_metadata(
        metadata={
            "candidate_version": report.candidate_version,
            "scores": {s.model: s.model_dump() for s in report.scores},
            "retrieval": report.retrieval,
            "decision": report.decision.reason,
        }
    )
    rows = Dataset.from_list([row.model_dump(mode="json") for row in report.rows])
    table = [{"model": s.model, **s.metrics()} for s in report.scores]
    summary = html_page(f"Evaluation: {report.decision.reason}", [comparison_plot(report.scores)], table)
    return report, rows, HTMLString(summary)
