"""Steps of the evaluating pipeline."""

from steps.evaluating.evaluate import evaluate_models
from steps.evaluating.promote import promote_if_better

__all__ = ["evaluate_models", "promote_if_better"]
