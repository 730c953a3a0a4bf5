from pathlib import Path
from typing import Annotated

from datasets import Dataset, DatasetDict
from zenml import log_metadata, step
from zenml.integrations.huggingface.materializers.huggingface_datasets_materializer import (
    HFDatasetMaterializer,
)
from zenml.types import HTMLString

from llm_engineering.application import evaluating
from llm_engineering.application.evaluation_setup import EvaluationConfig, TextMetrics
from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.infrastructure.container import (
    get_chat_model,
    get_embedder,
    get_settings,
    get_vector_index,
)
from llm_engineering.infrastructure.llm import default_model_dir
from llm_engineering.infrastructure.llm.local import TransformersChatModel, ensure_local_model
from llm_engineering.infrastructure.metrics import bleu, comparison_plot, rouge_l
from llm_engineering.infrastructure.plots import html_page
from tools import registry


def local_model(model_dir: Path, label: str) -> TransformersChatModel:
    model = TransformersChatModel(model_dir, threads=get_settings().llm_threads)
    model.model_id = label
    return model


@step(enable_cache=False, output_materializers={"evaluation_results": HFDatasetMaterializer})
def evaluate_models(
    config: EvaluationConfig, instruct_datasets: DatasetDict
) -> tuple[
    Annotated[evaluating.EvaluationReport, "evaluation_report"],
    Annotated[Dataset, "evaluation_results"],
    Annotated[HTMLString, "evaluation_summary"],
    Annotated[int, "candidate_version"],
]:
    """Answer the test split with the newest, the production and the base model; judge, score, compare.
    Returns, with the results, the number of the version it evaluated: the one promotion may move."""
    candidate = registry.latest_version()
    candidate_dir = registry.model_dir_of(candidate)
    if candidate_dir is None:
        raise RegistryError(
            f"Version {candidate.number} of the twin has no model_dir; run the training pipeline."
        )
    production = registry.production_version()
    production_dir = (
        registry.model_dir_of(production) if production and production.id != candidate.id else None
    )
    base_dir = ensure_local_model(default_model_dir(get_settings()))
    contestants = evaluating.Contestants(
        candidate=local_model(candidate_dir, f"candidate v{candidate.number}"),
        judge=get_chat_model(),
        production=local_model(production_dir, "production") if production_dir else None,
        base=local_model(base_dir, "base"),
    )
    test = instruct_datasets["test"]
    samples = list(zip(test["instruction"], test["output"], strict=True))
    metrics = TextMetrics(rouge_l=rouge_l, bleu=bleu)
    report = evaluating.evaluate_models(contestants, samples, metrics, config)
    retrieval = evaluating.measure_retrieval(get_vector_index(), get_embedder(), get_chat_model(), config)
    report = report.model_copy(update={"retrieval": retrieval})

    scores = {s.model: s.model_dump() for s in report.scores}
    log_metadata(
        metadata={"scores": scores, "retrieval": report.retrieval, "decision": report.decision.reason}
    )
    [candidate_scores] = [s for s in report.scores if s.model == evaluating.CANDIDATE]
    log_metadata(
        metadata={
            "judge_score": candidate_scores.judge_score,
            "rouge_l": candidate_scores.rouge_l,
            "bleu": candidate_scores.bleu,
            **{f"retrieval_{k}": v for k, v in report.retrieval.items()},
        },
        model_name=registry.MODEL_NAME,
        model_version=str(candidate.number),
    )
    rows = Dataset.from_list([row.model_dump(mode="json") for row in report.rows])
    table = [
        {"model": s.model, "judge": s.judge_score, "rouge_l": s.rouge_l, "bleu": s.bleu}
        for s in report.scores
    ]
    summary = html_page(f"Evaluation: {report.decision.reason}", [comparison_plot(report.scores)], table)
    return report, rows, HTMLString(summary), candidate.number
