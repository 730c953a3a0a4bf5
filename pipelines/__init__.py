"""ZenML pipelines: each only wires steps."""

from pipelines.digital_data_etl import digital_data_etl
from pipelines.feature_engineering import feature_engineering

__all__ = ["digital_data_etl", "feature_engineering"]
