"""What the warehouse holds, per author and category."""

from pydantic import BaseModel

from llm_engineering.application.ports import DocumentStore
from llm_engineering.domain.documents import DOCUMENT_TYPES, DataCategory


class AuthorSummary(BaseModel):
    full_name: str
    documents: dict[DataCategory, int]
    characters: int


def summarize_warehouse(store: DocumentStore) -> list[AuthorSummary]:
    """Count every author's documents per category, and the characters they hold."""
    summaries = []
    for user in store.list_users():
        counts = dict.fromkeys(DOCUMENT_TYPES, 0)
        characters = 0
        for category in DOCUMENT_TYPES:
            for document in store.iter_documents(category, author_id=user.id):
                counts[category] += 1
                characters += sum(len(text) for text in document.content.values())
        summaries.append(AuthorSummary(full_name=user.full_name, documents=counts, characters=characters))
    return summaries
