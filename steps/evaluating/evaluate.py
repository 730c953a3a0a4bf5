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
from llm_engineering.infrastructure.evaluation_page import evaluation_page


@step(enable_cache=False, output_materializers={"evaluation_results": HFDatasetMaterializer})
def evaluate_models(
    config: EvaluationConfig, instruct_datasets: DatasetDict
) -> tuple[
    Annotated[evaluating.EvaluationReport, "evaluation_report"],
    Annotated[Dataset, "evaluation_results"],
    Annotated[HTMLString, "evaluation_summary"],
]:
    """Answer the test split with the newest version, the served model and the base model; measure style
    fidelity, the judge, and the service's retrieval and grounding; decide, and log the newest version's
    metrics on it. The report names the version it evaluated; the summary is the HTML report."""
    test = instruct_datasets["test"]
    samples = list(zip(test["instruction"], test["output"], strict=True))
    report = evaluating.evaluate_candidate(evaluation_setup(config), samples, config)
    log_metadata(
        metadata={
            "candidate_version": report.candidate_version,
            "scores": {s.model: s.model_dump(mode="json") for s in report.scores},
            "retrieval": report.retrieval,
            "verdict": report.decision.verdict.value,
            "decision": report.decision.reason,
        }
    )
    rows = Dataset.from_list([row.model_dump(mode="json") for row in report.rows])
    return report, rows, HTMLString(evaluation_page(report))
