from zenml import pipeline

from llm_engineering.application.features import FeatureConfig
from steps.feature_engineering import (
    chunk_and_embed,
    clean_documents,
    load_to_vector_db,
    query_data_warehouse,
)


@pipeline
def feature_engineering(
    author_full_names: list[str],
    config: FeatureConfig = FeatureConfig(),  # noqa: B008 - frozen, so one shared default is safe
) -> None:
    """Turn the authors' warehouse documents into the feature store's cleaned and embedded collections.

    Steps: query_data_warehouse → clean_documents → chunk_and_embed → load_to_vector_db.
    """
    raw_documents = query_data_warehouse(author_full_names=author_full_names)
    cleaned_documents = clean_documents(raw_documents=raw_documents)
    embedded_documents = chunk_and_embed(
        raw_documents=raw_documents, cleaned_documents=cleaned_documents, config=config
    )
    load_to_vector_db(cleaned_documents=cleaned_documents, embedded_documents=embedded_documents)
