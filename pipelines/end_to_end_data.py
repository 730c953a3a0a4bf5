from zenml import pipeline

from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.application.features import FeatureConfig
from llm_engineering.domain.crawling import CrawlConfig
from steps.datasets import create_instruct_datasets, create_preference_datasets, query_feature_store
from steps.etl import crawl_links, get_or_create_user
from steps.feature_engineering import (
    chunk_and_embed,
    clean_documents,
    load_to_vector_db,
    query_data_warehouse,
)


@pipeline
def end_to_end_data(
    user_full_name: str,
    links: list[str],
    crawl: CrawlConfig = CrawlConfig(),  # noqa: B008 - frozen defaults are safe to share
    features: FeatureConfig = FeatureConfig(),  # noqa: B008
    datasets: DatasetConfig = DatasetConfig(),  # noqa: B008
    max_failure_rate: float = 0.2,
) -> None:
    """Every data pipeline in order, for one author: crawl → features → instruction and preference datasets.

    Steps: get_or_create_user → crawl_links → query_data_warehouse → clean_documents → chunk_and_embed →
    load_to_vector_db → query_feature_store → create_instruct_datasets, create_preference_datasets.
    """
    user = get_or_create_user(user_full_name=user_full_name)
    crawl_links(user=user, links=links, crawl=crawl, max_failure_rate=max_failure_rate)
    raw = query_data_warehouse(author_full_names=[user_full_name], after="crawl_links")
    cleaned = clean_documents(raw_documents=raw)
    embedded = chunk_and_embed(raw_documents=raw, cleaned_documents=cleaned, config=features)
    load_to_vector_db(cleaned_documents=cleaned, embedded_documents=embedded)
    documents = query_feature_store(after="load_to_vector_db")
    create_instruct_datasets(cleaned_documents=documents, config=datasets)
    create_preference_datasets(cleaned_documents=documents, config=datasets, after="create_instruct_datasets")
