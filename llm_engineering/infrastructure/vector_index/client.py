"""The feature store on qdrant-client: a Qdrant server, Qdrant Cloud, or the client's local mode."""

from collections.abc import Iterator, Sequence
from uuid import UUID

from loguru import logger
from qdrant_client import QdrantClient, models

from llm_engineering.application.ports import ScoredPoint, VectorPoint, Where
from llm_engineering.domain.exceptions import CollectionNotFoundError
from llm_engineering.infrastructure.vector_index.filters import (
    INDEXED_FIELDS,
    client_filter,
    client_must,
    layout_error,
    require_condition,
)
from llm_engineering.infrastructure.vector_index.outages import reaching_qdrant


def vectors_config(vector_size: int | None) -> models.VectorParams | dict[str, models.VectorParams]:
    """Cosine vectors of `vector_size`, or no vectors at all for a payload-only collection."""
    if vector_size is None:
        return {}
    return models.VectorParams(size=vector_size, distance=models.Distance.COSINE)


def has_layout(info: models.CollectionInfo, vector_size: int | None) -> bool:
    """Whether an existing collection holds what `vectors_config(vector_size)` would create."""
    vectors = info.config.params.vectors
    if vector_size is None:
        return not vectors
    return (
        isinstance(vectors, models.VectorParams)
        and vectors.size == vector_size
        and vectors.distance == models.Distance.COSINE
    )


def to_point_struct(point: VectorPoint) -> models.PointStruct:
    vector: list[float] | dict[str, list[float]] = {} if point.vector is None else list(point.vector)
    return models.PointStruct(id=str(point.id), vector=vector, payload=point.payload)


class ClientVectorIndex:
    """Collections on whatever `client` points at; the same calls serve a server, the cloud and local mode.
    A server that cannot be reached raises FeatureStoreUnavailableError (see `reaching_qdrant`)."""

    def __init__(self, client: QdrantClient, batch_size: int = 256, page_size: int = 256) -> None:
        self.client = client
        self.batch_size = batch_size
        self.page_size = page_size
        self._known: set[str] = set()

    def ensure_collection(self, name: str, vector_size: int | None) -> None:
        """Create the collection and its payload indexes on first use, or check the existing layout."""
        with reaching_qdrant(self.client, f"preparing collection {name}"):
            if self.client.collection_exists(name):
                if not has_layout(self.client.get_collection(name), vector_size):
                    raise layout_error(name, vector_size)
            else:
                self.client.create_collection(name, vectors_config=vectors_config(vector_size))
                for field in INDEXED_FIELDS:
                    self.client.create_payload_index(
                        name, field, field_schema=models.PayloadSchemaType.KEYWORD, wait=True
                    )
                logger.info("Created feature store collection {}", name)
        self._known.add(name)

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id, one acknowledged request per batch."""
        self._require(name)
        for start in range(0, len(points), self.batch_size):
            batch = [to_point_struct(point) for point in points[start : start + self.batch_size]]
            with reaching_qdrant(self.client, f"storing points in {name}"):
                self.client.upsert(name, points=batch, wait=True)

    def delete_where(self, name: str, where: Where) -> None:
        require_condition(where)
        self._require(name)
        selector = models.FilterSelector(filter=client_must(where))
        with reaching_qdrant(self.client, f"deleting points from {name}"):
            self.client.delete(name, points_selector=selector, wait=True)

    def scroll(self, name: str, where: Where | None = None) -> Iterator[VectorPoint]:
        """Every matching point with its payload (no vectors), fetched `page_size` at a time."""
        self._require(name)
        offset: models.ExtendedPointId | None = None
        while True:
            with reaching_qdrant(self.client, f"reading points of {name}"):
                records, offset = self.client.scroll(
                    name,
                    scroll_filter=client_filter(where),
                    limit=self.page_size,
                    offset=offset,
                    with_payload=True,
                    with_vectors=False,
                )
            for record in records:
                yield VectorPoint(id=UUID(str(record.id)), payload=record.payload or {})
            if offset is None:
                return

    def search(
        self, name: str, vector: Sequence[float], limit: int, where: Where | None = None
    ) -> list[ScoredPoint]:
        """The `limit` points most cosine-similar to `vector` among those matching `where`, best first."""
        self._require(name)
        with reaching_qdrant(self.client, f"searching {name}"):
            response = self.client.query_points(
                name, query=list(vector), query_filter=client_filter(where), limit=limit, with_payload=True
            )
        return [
            ScoredPoint(id=UUID(str(hit.id)), score=hit.score, payload=hit.payload or {})
            for hit in response.points
        ]

    def count(self, name: str, where: Where | None = None) -> int:
        self._require(name)
        with reaching_qdrant(self.client, f"counting points of {name}"):
            return self.client.count(name, count_filter=client_filter(where), exact=True).count

    def close(self) -> None:
        """Release the client's connections (or, in local mode, its folder lock)."""
        self.client.close()

    def _require(self, name: str) -> None:
        """Fail with what to do when a collection is missing, asking the server once per collection."""
        if name in self._known:
            return
        with reaching_qdrant(self.client, f"looking up collection {name}"):
            exists = self.client.collection_exists(name)
        if not exists:
            raise CollectionNotFoundError(
                f"The feature store has no collection {name!r}; run the feature engineering pipeline to "
                "create it."
            )
        self._known.add(name)
