from loguru import logger
from zenml import log_metadata, step

from llm_engineering.application.evaluating import EvaluationReport
from tools import registry


@step(enable_cache=False)
def promote_if_better(evaluation_report: EvaluationReport) -> bool:
    """Make the newest version production if it beat production; otherwise stage it. Logs why either way."""
    candidate = registry.latest_version()
    decision = evaluation_report.decision
    stage = "production" if decision.promote else "staging"
    registry.promote(candidate.number, stage, decision.reason)
    logger.info("Version {} → {}: {}", candidate.number, stage, decision.reason)
    log_metadata(metadata={"version": candidate.number, "stage": stage, "reason": decision.reason})
    return decision.promote
