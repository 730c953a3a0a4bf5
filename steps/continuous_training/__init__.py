"""Steps of the continuous_training pipeline; it also runs the ETL, feature, training and evaluation steps."""

from steps.continuous_training.plan import plan_refresh
from steps.continuous_training.refresh_datasets import refresh_datasets
from steps.continuous_training.report import report_refresh

__all__ = ["plan_refresh", "refresh_datasets", "report_refresh"]
