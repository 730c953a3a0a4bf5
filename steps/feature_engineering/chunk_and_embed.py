from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import features
from llm_engineering.application.features import FeatureConfig
from llm_engineering.domain.documents import RawDocuments
from llm_engineering.domain.features import CleanedDocuments, EmbeddedDocuments, chunk_statistics
from llm_engineering.infrastructure.container import get_embedder, get_vector_index


# Never cached: what needs embedding depends on what the feature store holds now.
@step(enable_cache=False)
def chunk_and_embed(
    raw_documents: RawDocuments, cleaned_documents: CleanedDocuments, config: FeatureConfig
) -> Annotated[EmbeddedDocuments, "embedded_documents"]:
    """Chunk and embed the documents that are new, or whose content, cleaning, chunking or model changed."""
    embedded = features.embed_changes(
        cleaned_documents.documents,
        raw_documents.authors,
        get_vector_index(),
        get_embedder(),
        config,
    )
    log_metadata(
        metadata={
            "plan": embedded.plan.counts(),
            # A changed document counts under each part of its fingerprint that differs from the stored one.
            "changed_because": embedded.plan.reason_counts(),
            "model_id": embedded.model_id,
            "chunks": chunk_statistics([e.chunk for e in embedded.chunks]),
        }
    )
    return embedded
