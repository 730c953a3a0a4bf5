from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.application.evaluating import EvaluationReport
from tools import registry


@step(enable_cache=False)
def promote_if_better(
    evaluation_report: EvaluationReport, candidate_version: int
) -> Annotated[bool, "promoted"]:
    """Make the evaluated version production if it beat production; otherwise stage it. Logs why either way.
    The version comes from the evaluation, so a training run finishing meanwhile cannot be promoted unseen."""
    decision = evaluation_report.decision
    stage = "production" if decision.promote else "staging"
    registry.promote(candidate_version, stage, decision.reason)
    logger.info("Version {} → {}: {}", candidate_version, stage, decision.reason)
    log_metadata(metadata={"version": candidate_version, "stage": stage, "reason": decision.reason})
    return decision.promote
