from typing import Annotated

from loguru import logger
from zenml import log_metadata, step
from zenml.types import HTMLString

from llm_engineering.application.evaluating import EvaluationReport
from llm_engineering.domain.refresh import RefreshPlan
from llm_engineering.domain.training import TrainingResult
from llm_engineering.infrastructure.refresh_page import refresh_page


@step(enable_cache=False)
def report_refresh(
    plan: RefreshPlan,
    train_rows: dict[str, int] | None = None,
    training_result: TrainingResult | None = None,
    evaluation_report: EvaluationReport | None = None,
    promoted: bool | None = None,
) -> Annotated[HTMLString, "refresh_report"]:
    """The run report for the dashboard: what was new, what was trained, the decision and why."""
    if evaluation_report is not None:
        outcome = "promoted" if promoted else "not promoted"
        logger.info(
            "Version {} {}: {}",
            evaluation_report.candidate_version,
            outcome,
            evaluation_report.decision.reason,
        )
    elif train_rows is not None:
        logger.info("Nothing trained: no stage had rows to learn from ({})", train_rows)
    else:
        logger.info(plan.summary)
    metadata: dict[str, object] = {"summary": plan.summary, "trained": training_result is not None}
    if evaluation_report is not None:
        metadata |= {"candidate_version": evaluation_report.candidate_version, "promoted": bool(promoted)}
    log_metadata(metadata=metadata)
    return HTMLString(refresh_page(plan, train_rows, training_result, evaluation_report, promoted))
