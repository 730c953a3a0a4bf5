"""Steps of the generate_datasets pipeline."""

from steps.datasets.create import create_instruct_datasets, create_preference_datasets
from steps.datasets.push import push_to_huggingface
from steps.datasets.query import query_feature_store

__all__ = [
    "create_instruct_datasets",
    "create_preference_datasets",
    "push_to_huggingface",
    "query_feature_store",
]
