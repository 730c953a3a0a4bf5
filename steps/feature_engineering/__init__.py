"""Steps of the feature_engineering pipeline."""

from steps.feature_engineering.chunk_and_embed import chunk_and_embed
from steps.feature_engineering.clean import clean_documents
from steps.feature_engineering.load import load_to_vector_db
from steps.feature_engineering.query import query_data_warehouse

__all__ = ["chunk_and_embed", "clean_documents", "load_to_vector_db", "query_data_warehouse"]
