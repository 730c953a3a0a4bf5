"""ZenML pipelines: each only wires steps."""

from pipelines.continuous_training import continuous_training
from pipelines.digital_data_etl import digital_data_etl
from pipelines.end_to_end_data import end_to_end_data
from pipelines.evaluating import evaluating
from pipelines.feature_engineering import feature_engineering
from pipelines.generate_datasets import generate_datasets
from pipelines.training import training

__all__ = [
    "continuous_training",
    "digital_data_etl",
    "end_to_end_data",
    "evaluating",
    "feature_engineering",
    "generate_datasets",
    "training",
]
