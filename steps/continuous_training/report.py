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
    new_samples: dict[str, int] | None = None,
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
    else:
        logger.info(plan.summary)
    metadata: dict[str, object] = {"summary": plan.summary, "trained": training_result is not None}
    if evaluation_report is not None:
        metadata |= {"candidate_version": evaluation_report.candidate_version, "promoted": bool(promoted)}
    log_metadata(metadata=metadata)
    return HTMLString(refresh_page(plan, new_samples, training_result, evaluation_report, promoted))
