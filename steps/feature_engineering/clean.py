from collections import Counter
from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import features
from llm_engineering.domain.documents import RawDocuments
from llm_engineering.domain.features import CleanedDocuments


@step
def clean_documents(raw_documents: RawDocuments) -> Annotated[CleanedDocuments, "cleaned_documents"]:
    """Clean every document, keeping paragraphs and code blocks for chunking."""
    cleaned = features.clean_documents(raw_documents)
    raw_chars = sum(len(text) for document in raw_documents.all() for text in document.content.values())
    log_metadata(
        metadata={
            "per_category": dict(Counter(document.category.value for document in cleaned)),
            "per_author": dict(Counter(document.author_full_name for document in cleaned)),
            "characters_before": raw_chars,
            "characters_after": sum(len(document.content) for document in cleaned),
        }
    )
    return CleanedDocuments(documents=cleaned)
