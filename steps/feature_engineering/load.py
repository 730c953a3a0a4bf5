from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import features
from llm_engineering.domain.features import CleanedDocuments, EmbeddedDocuments, FeaturePlan
from llm_engineering.infrastructure.container import get_vector_index


@step(enable_cache=False)
def load_to_vector_db(
    cleaned_documents: CleanedDocuments, embedded_documents: EmbeddedDocuments
) -> Annotated[FeaturePlan, "feature_store_update"]:
    """Write the run's changes to the feature store: new chunks in, stale chunks and removed documents out."""
    features.load_features(get_vector_index(), cleaned_documents.documents, embedded_documents)
    log_metadata(metadata={"applied": embedded_documents.plan.counts()})
    return embedded_documents.plan
