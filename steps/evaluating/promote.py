from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.application.evaluating import EvaluationReport, promote_evaluated
from llm_engineering.infrastructure.container.models import get_model_registry


@step(enable_cache=False)
def promote_if_better(evaluation_report: EvaluationReport) -> Annotated[bool, "promoted"]:
    """Make the evaluated version production if it beat production; otherwise stage it. Logs why either way.
    The version comes from the report, so a training run finishing meanwhile cannot be promoted unseen."""
    stage = promote_evaluated(get_model_registry(), evaluation_report)
    version, reason = evaluation_report.candidate_version, evaluation_report.decision.reason
    logger.info("Version {} → {}: {}", version, stage, reason)
    verdict = evaluation_report.decision.verdict.value
    log_metadata(metadata={"version": version, "stage": stage.value, "verdict": verdict, "reason": reason})
    return evaluation_report.decision.promote
