"""What both feature store adapters share: `Where` as each library's filter, indexed fields, errors."""

import qdrant_edge as edge
from qdrant_client import models

from llm_engineering.application.ports import Where

INDEXED_FIELDS = ("author_id", "author_full_name", "platform", "document_id")
"""Payload fields that retrieval and re-indexing filter on; both backends keep a keyword index on each."""


def edge_must(where: Where) -> edge.Filter:
    """The qdrant-edge filter requiring every field of `where`: its value, or one of its list of values."""
    conditions: list[edge.ConditionType] = []
    for field, value in where.items():
        match = edge.MatchAny(list(value)) if isinstance(value, list) else edge.MatchValue(value)
        conditions.append(edge.FieldCondition(field, match=match))
    return edge.Filter(must=conditions)


def edge_filter(where: Where | None) -> edge.Filter | None:
    """`edge_must(where)`, or None when `where` requires nothing."""
    return edge_must(where) if where else None


def client_must(where: Where) -> models.Filter:
    """The qdrant-client filter requiring every field of `where`: its value, or one of its list of values."""
    conditions: list[models.Condition] = []
    for field, value in where.items():
        match: models.MatchAny | models.MatchValue = (
            models.MatchAny(any=list(value)) if isinstance(value, list) else models.MatchValue(value=value)
        )
        conditions.append(models.FieldCondition(key=field, match=match))
    return models.Filter(must=conditions)


def client_filter(where: Where | None) -> models.Filter | None:
    """`client_must(where)`, or None when `where` requires nothing."""
    return client_must(where) if where else None


def require_condition(where: Where) -> None:
    """Refuse an empty `where` where it would silently mean "every point"."""
    if not where:
        raise ValueError(
            "delete_where needs at least one condition; an empty filter would delete every point."
        )


def layout_error(name: str, vector_size: int | None) -> ValueError:
    """The error for a collection that exists with other vectors than the caller asked for."""
    layout = "payload only" if vector_size is None else f"{vector_size}-d vectors"
    return ValueError(
        f"Collection {name!r} already exists with another layout than {layout}; delete it (or use another "
        "collection name) and re-run the feature engineering pipeline."
    )
