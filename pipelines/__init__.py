"""ZenML pipelines: each only wires steps."""

from pipelines.digital_data_etl import digital_data_etl

__all__ = ["digital_data_etl"]
