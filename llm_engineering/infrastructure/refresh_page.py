"""A continuous-training run's report as one HTML page: what was new, what was trained, the decision, why."""

import html
from collections.abc import Sequence

from llm_engineering.application.evaluating import EvaluationReport
from llm_engineering.domain.refresh import RefreshPlan
from llm_engineering.domain.training import TrainingResult


def _list(items: Sequence[str], empty: str = "none") -> str:
    if not items:
        return html.escape(empty)
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def _row(name: str, value: str) -> str:
    return f"<tr><th align='left'>{html.escape(name)}</th><td>{value}</td></tr>"


def refresh_page(
    plan: RefreshPlan,
    train_rows: dict[str, int] | None,
    training: TrainingResult | None,
    evaluation: EvaluationReport | None,
    promoted: bool | None,
) -> str:
    """The page: the plan's findings, the documents by change, the train rows each stage had, training
    stages, and the evaluation's verdict with its reason (or why nothing was trained)."""
    changes = plan.changes
    rows = [
        _row("Decision", html.escape(plan.summary)),
        _row("New documents", _list(changes.new)),
        _row("Changed documents", _list(changes.changed)),
        _row("Removed documents", _list(changes.removed)),
        _row("New feedback pairs", f"{plan.new_feedback_pairs} ({len(plan.new_feedback_traces)} traces)"),
    ]
    if train_rows is not None:
        counts = ", ".join(f"{stage}: {count}" for stage, count in train_rows.items())
        rows.append(_row("Train rows for each stage", html.escape(counts)))
        if training is None:
            rows.append(_row("Training", "none: no stage had rows to learn from; no model version was made"))
    if training is not None:
        stages = [
            f"{stage}: {s.steps} steps, loss {s.first_loss:.3f} → {s.last_loss:.3f}, {s.seconds:.0f} s"
            for stage, s in training.stages.items()
        ]
        start = f"version {plan.start_from_version}" if plan.start_from_version else "the base model"
        rows.append(_row(f"Trained from {start}", _list(stages)))
        rows.append(_row("Model folder", html.escape(training.model_dir)))
    if evaluation is not None:
        outcome = "promoted to production" if promoted else "not promoted"
        rows.append(
            _row(
                f"Version {evaluation.candidate_version}",
                html.escape(f"{evaluation.decision.verdict.value}, {outcome}: {evaluation.decision.reason}"),
            )
        )
    return "<h2>Continuous training</h2>\n<table border='1' cellpadding='4'>" + "".join(rows) + "</table>"
