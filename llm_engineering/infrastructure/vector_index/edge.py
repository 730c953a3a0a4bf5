"""The embedded feature store: Qdrant's engine in-process (qdrant-edge), one shard folder per collection."""

from collections.abc import Iterator, Sequence
from pathlib import Path
from uuid import UUID

import qdrant_edge as edge
from loguru import logger

from llm_engineering.application.ports import ScoredPoint, VectorPoint, Where
from llm_engineering.domain.exceptions import CollectionNotFoundError, FeatureStoreUnavailableError
from llm_engineering.infrastructure.vector_index.filters import (
    INDEXED_FIELDS,
    edge_filter,
    edge_must,
    layout_error,
    require_condition,
)

# qdrant-edge refuses a shard without any vector slot, so a payload-only collection declares one sparse
# vector that no point ever fills. Points carry an empty vector mapping, nothing is stored or scored for
# it, and callers never see it: scroll and count work as on a payload-only Qdrant server collection.
UNUSED_SPARSE_VECTOR = "unused"
CONFIG_FILE = "edge_config.json"


def shard_config(vector_size: int | None) -> edge.EdgeConfig:
    """Cosine vectors of `vector_size`, or the payload-only layout; no write-ahead log (see the class)."""
    if vector_size is None:
        sparse = {UNUSED_SPARSE_VECTOR: edge.EdgeSparseVectorParams()}
        return edge.EdgeConfig(sparse_vectors=sparse, wal_enabled=False)
    vectors = edge.EdgeVectorParams(size=vector_size, distance=edge.Distance.Cosine)
    return edge.EdgeConfig(vectors=vectors, wal_enabled=False)


def to_edge_point(point: VectorPoint) -> edge.Point:
    vector: edge.Vector = {} if point.vector is None else list(point.vector)
    return edge.Point(str(point.id), vector, point.payload)


class EdgeVectorIndex:
    """Collections as qdrant-edge shards under `root`, opened on first use and kept open until `close()`.

    Shards run without a write-ahead log: the WAL holds an exclusive file lock, which would stop any other
    process (the inference service, a second CLI command) from even reading the store. Every write is
    flushed before it returns instead, so it is durable and a process that opens the store afterwards sees
    it. A process that already holds a shard open keeps the view it loaded. One writer at a time: several
    writing processes need the Qdrant server.
    """

    def __init__(self, root: Path, batch_size: int = 512, page_size: int = 256) -> None:
        self.root = root
        self.batch_size = batch_size
        self.page_size = page_size
        self._shards: dict[str, edge.EdgeShard] = {}
        self._checked_sizes: dict[str, int | None] = {}

    def ensure_collection(self, name: str, vector_size: int | None) -> None:
        """Create the collection on first use, or check that the stored one has the same vector layout."""
        if name in self._checked_sizes:
            if self._checked_sizes[name] != vector_size:
                raise layout_error(name, vector_size)
            return
        path = self.root / name
        if (path / CONFIG_FILE).exists():
            self._close_shard(name)
            self._shards[name] = self._load_checked(name, vector_size)
        else:
            self._shards[name] = self._create(path, vector_size)
        self._checked_sizes[name] = vector_size

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id, in batches, flushed to disk before returning."""
        if not points:
            return
        shard = self._shard(name)
        for start in range(0, len(points), self.batch_size):
            batch = [to_edge_point(point) for point in points[start : start + self.batch_size]]
            shard.update(edge.UpdateOperation.upsert_points(batch))
        shard.flush()

    def delete_where(self, name: str, where: Where) -> None:
        require_condition(where)
        shard = self._shard(name)
        shard.update(edge.UpdateOperation.delete_points_by_filter(edge_must(where)))
        shard.flush()

    def scroll(self, name: str, where: Where | None = None) -> Iterator[VectorPoint]:
        """Every matching point with its payload (no vectors), fetched `page_size` at a time."""
        shard = self._shard(name)
        offset: edge.PointId | None = None
        while True:
            request = edge.ScrollRequest(
                offset=offset, limit=self.page_size, filter=edge_filter(where), with_payload=True
            )
            records, offset = shard.scroll(request)
            for record in records:
                yield VectorPoint(id=UUID(str(record.id)), payload=record.payload or {})
            if offset is None:
                return

    def search(
        self, name: str, vector: Sequence[float], limit: int, where: Where | None = None
    ) -> list[ScoredPoint]:
        """The `limit` points most cosine-similar to `vector` among those matching `where`, best first."""
        request = edge.QueryRequest(
            limit=limit,
            query=edge.Query.Nearest(list(vector)),
            filter=edge_filter(where),
            with_payload=True,
        )
        hits = self._shard(name).query(request)
        return [ScoredPoint(id=UUID(str(hit.id)), score=hit.score, payload=hit.payload or {}) for hit in hits]

    def count(self, name: str, where: Where | None = None) -> int:
        return self._shard(name).count(edge.CountRequest(exact=True, filter=edge_filter(where)))

    def close(self) -> None:
        """Flush and release every open shard; the index opens them again on next use."""
        for name in list(self._shards):
            self._close_shard(name)
        self._checked_sizes.clear()

    def _shard(self, name: str) -> edge.EdgeShard:
        if name not in self._shards:
            if not (self.root / name / CONFIG_FILE).exists():
                raise CollectionNotFoundError(
                    f"The feature store at {self.root} has no collection {name!r}; "
                    "run the feature engineering pipeline to create it."
                )
            self._shards[name] = self._load(name)
        return self._shards[name]

    def _create(self, path: Path, vector_size: int | None) -> edge.EdgeShard:
        shard = edge.EdgeShard.create(str(path), shard_config(vector_size))
        for field in INDEXED_FIELDS:
            shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))
        shard.flush()
        logger.info("Created feature store collection {} at {}", path.name, path)
        return shard

    def _load(self, name: str) -> edge.EdgeShard:
        path = self.root / name
        try:
            return edge.EdgeShard.load(str(path))
        except Exception as error:  # the engine raises bare Exception; keep its reason, add what to do
            raise FeatureStoreUnavailableError(
                f"Cannot open collection {name!r} at {path}: {error}. Delete that folder and re-run the "
                "feature engineering pipeline to rebuild it."
            ) from error

    def _load_checked(self, name: str, vector_size: int | None) -> edge.EdgeShard:
        """Open a shard, letting the engine check that its stored layout matches `vector_size`."""
        try:
            return edge.EdgeShard.load(str(self.root / name), shard_config(vector_size))
        except Exception as error:
            # Tell a layout mismatch (the shard opens without our config) from an unreadable shard.
            self._load(name).close()
            raise layout_error(name, vector_size) from error

    def _close_shard(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.flush()
            shard.close()
