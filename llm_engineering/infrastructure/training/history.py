"""Turning a Hugging Face trainer's log history into loss points and a stage summary."""

from typing import Any

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.training import LossPoint, Stage, StageSummary

# Keys of a train log entry that are bookkeeping rather than metrics worth reporting.
BOOKKEEPING = {"loss", "learning_rate", "grad_norm", "epoch", "step", "num_tokens"}


def loss_points(stage: Stage, log_history: list[dict[str, Any]]) -> list[LossPoint]:
    """One point per logged step, with the eval loss of that step when an evaluation ran there."""
    points: dict[int, LossPoint] = {}
    for entry in log_history:
        step = int(entry["step"])
        if "loss" in entry:
            points[step] = LossPoint(
                stage=stage, step=step, loss=entry["loss"], learning_rate=entry.get("learning_rate")
            )
        elif "eval_loss" in entry:
            point = points.get(step, LossPoint(stage=stage, step=step))
            points[step] = point.model_copy(update={"eval_loss": entry["eval_loss"]})
    return [points[step] for step in sorted(points)]


def summarize(
    log_history: list[dict[str, Any]], steps: int, seconds: float, eval_loss: float | None
) -> StageSummary:
    """Loss range, throughput and the last value of every other train metric, beside the final eval loss."""
    train_entries = [entry for entry in log_history if "loss" in entry]
    if not train_entries:
        raise TwinError("The trainer logged no train step; the train split is empty or max_steps is 0.")
    losses = [float(entry["loss"]) for entry in train_entries]
    # num_tokens is TRL's running count of non-padding tokens (packed rows have no padding at all).
    tokens = max(float(entry.get("num_tokens", 0)) for entry in train_entries)
    metrics: dict[str, float] = {}
    for entry in train_entries:
        metrics.update({key: float(value) for key, value in entry.items() if key not in BOOKKEEPING})
    return StageSummary(
        steps=steps,
        first_loss=losses[0],
        last_loss=losses[-1],
        min_loss=min(losses),
        eval_loss=eval_loss,
        seconds=seconds,
        tokens_per_second=tokens / seconds if seconds > 0 else 0.0,
        metrics=metrics,
    )
