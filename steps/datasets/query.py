from collections import Counter
from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application.datasets import read_cleaned_documents
from llm_engineering.domain.features import CleanedDocuments
from llm_engineering.infrastructure.container import get_vector_index


# Never cached: the feature store changes between runs.
@step(enable_cache=False)
def query_feature_store() -> Annotated[CleanedDocuments, "cleaned_documents"]:
    """Read every cleaned document from the feature store."""
    documents = read_cleaned_documents(get_vector_index())
    log_metadata(metadata={"per_category": dict(Counter(d.category.value for d in documents))})
    return CleanedDocuments(documents=documents)
