"""In-memory stand-ins for the application ports."""

import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from llm_engineering.application.ports import InsertOutcome, ScoredPoint, VectorPoint, Where
from llm_engineering.domain.documents import DataCategory, Document, UserDocument, name_key
from llm_engineering.domain.exceptions import CollectionNotFoundError, CrawlError, RegistryError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.domain.links import canonical_link
from llm_engineering.domain.registry import Key, ModelVersion, Stage


class InMemoryStore:
    """A `DocumentStore` in dicts, enforcing the warehouse's rules.

    One document per canonical link; names matched ignoring case and spacing, of namesakes the first stored.
    """

    def __init__(self) -> None:
        self.users: dict[UUID, UserDocument] = {}
        self.documents: dict[UUID, Document] = {}

    def find_user(self, first_name: str, last_name: str) -> UserDocument | None:
        key = name_key(f"{first_name} {last_name}")
        namesakes = [u for u in self.users.values() if u.name_key == key]
        return min(namesakes, key=lambda u: u.created_at, default=None)  # a tie: the first inserted

    def get_user(self, user_id: UUID) -> UserDocument | None:
        return self.users.get(user_id)

    def get_or_create_user(self, first_name: str, last_name: str) -> UserDocument:
        user = self.find_user(first_name, last_name) or UserDocument(
            first_name=first_name, last_name=last_name
        )
        self.users[user.id] = user
        return user

    def list_users(self) -> list[UserDocument]:
        return sorted(self.users.values(), key=lambda u: str(u.id))

    def upsert_user(self, user: UserDocument) -> None:
        self.users[user.id] = user

    def link_exists(self, link: str) -> bool:
        return self._identity_stored(canonical_link(link))

    def _identity_stored(self, identity: str) -> bool:
        return any(identity in (d.canonical_link, *d.canonical_aliases) for d in self.documents.values())

    def insert(self, document: Document) -> InsertOutcome:
        if any(self._identity_stored(key) for key in (document.canonical_link, *document.canonical_aliases)):
            return InsertOutcome.ALREADY_PRESENT
        self.documents[document.id] = document
        return InsertOutcome.STORED

    def upsert(self, document: Document) -> None:
        self.documents[document.id] = document

    def iter_documents(self, category: DataCategory, author_id: UUID | None = None) -> Iterator[Document]:
        for document in sorted(self.documents.values(), key=lambda d: str(d.id)):
            if document.category is category and author_id in (None, document.author_id):
                yield document

    def count(self, category: DataCategory) -> int:
        return sum(d.category is category for d in self.documents.values())


class ScriptedCrawler:
    """A `Crawler` returning prepared documents per link, or raising a prepared error."""

    def __init__(self, results: dict[str, list[Document] | Exception]) -> None:
        self.results = results
        self.calls: list[str] = []

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        self.calls.append(link)
        result = self.results.get(link, CrawlError(f"nothing scripted for {link}"))
        if isinstance(result, Exception):
            raise result
        return result


def _matches(payload: dict[str, Any], where: Where | None) -> bool:
    if not where:
        return True
    return all(
        payload.get(field) in value if isinstance(value, list) else payload.get(field) == value
        for field, value in where.items()
    )


class InMemoryVectorIndex:
    """A `VectorIndex` in dicts, with exact cosine search."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[UUID, VectorPoint]] = {}
        self.sizes: dict[str, int | None] = {}

    def ensure_collection(self, name: str, vector_size: int | None) -> None:
        self.collections.setdefault(name, {})
        self.sizes.setdefault(name, vector_size)

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        for point in points:
            if (point.vector is None) != (self.sizes[name] is None):
                raise ValueError(f"point {point.id} does not fit collection {name}")
            self.collections[name][point.id] = point

    def delete_where(self, name: str, where: Where) -> None:
        points = self.collections[name]
        for point_id in [pid for pid, p in points.items() if _matches(p.payload, where)]:
            del points[point_id]

    def scroll(self, name: str, where: Where | None = None) -> Iterator[VectorPoint]:
        for point in list(self.collections[name].values()):
            if _matches(point.payload, where):
                yield point.model_copy(update={"vector": None})

    def search(
        self, name: str, vector: Sequence[float], limit: int, where: Where | None = None
    ) -> list[ScoredPoint]:
        if name not in self.collections:
            raise CollectionNotFoundError(f"No collection {name}.")  # as the real engines do
        scored = [
            ScoredPoint(id=p.id, score=_cosine(vector, p.vector or []), payload=p.payload)
            for p in self.collections[name].values()
            if _matches(p.payload, where)
        ]
        return sorted(scored, key=lambda s: -s.score)[:limit]

    def count(self, name: str, where: Where | None = None) -> int:
        return sum(_matches(p.payload, where) for p in self.collections.get(name, {}).values())


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class HashingEmbedder:
    """An `Embedder` whose tokens are words and whose vectors hash words into buckets."""

    model_id = "hashing-test"
    dimension = 16
    max_tokens = 40

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        vectors = []
        for text in texts:
            vector = [0.0] * self.dimension
            for word in text.lower().split():
                vector[zlib.crc32(word.encode()) % self.dimension] += 1.0
            vectors.append(vector)
        return vectors


class ScriptedChatModel:
    """A `ChatModel` that answers with a function of the last user message, recording every call.

    `answer(user_message, attempt)` gets how many times this same message was asked before.
    """

    model_id = "scripted-test"

    def __init__(self, answer: Callable[[str, int], str]) -> None:
        self.answer = answer
        self.asked: list[str] = []
        self.batches: list[int] = []

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.batches.append(len(conversations))
        completions = []
        for conversation in conversations:
            user = conversation[-1].content
            text = self.answer(user, self.asked.count(user))
            self.asked.append(user)
            completions.append(
                Completion(
                    text=text,
                    model=self.model_id,
                    prompt_tokens=len(user.split()),
                    completion_tokens=len(text.split()),
                )
            )
        return completions


class InMemoryRegistry:
    """A `ModelRegistry` in a dict, with the stage rules of ZenML's: one version per stage, the one that
    loses a stage is archived, and a promotion to production records the version it replaced."""

    def __init__(self) -> None:
        self.versions: dict[int, ModelVersion] = {}

    def register(self, model_dir: Path | None = None, **metadata: Any) -> ModelVersion:
        """A new version, as a training run leaves it."""
        if model_dir is not None:
            metadata[Key.MODEL_DIR] = str(model_dir)
        number = len(self.versions) + 1
        version = ModelVersion(number=number, name=str(number), created=datetime.now(UTC), metadata=metadata)
        self.versions[number] = version
        return version

    def get(self, version: str | int) -> ModelVersion:
        found = next((v for v in self.versions.values() if str(version) in (str(v.number), v.name)), None)
        if found is None:
            raise RegistryError(f"No version {version!r}.")
        return found

    def latest(self) -> ModelVersion:
        if not self.versions:
            raise RegistryError("No version yet.")
        return self.versions[max(self.versions)]

    def production(self) -> ModelVersion | None:
        return next((v for v in self.versions.values() if v.stage == Stage.PRODUCTION), None)

    def list_versions(self) -> list[ModelVersion]:
        return sorted(self.versions.values(), key=lambda v: -v.number)

    def log_metadata(self, version: str | int, values: Mapping[str, Any]) -> None:
        found = self.get(version)
        metadata = {**found.metadata, **{str(key): value for key, value in values.items()}}
        self.versions[found.number] = found.model_copy(update={"metadata": metadata})

    def _set_stage(self, number: int, stage: Stage) -> None:
        for other in list(self.versions.values()):
            if other.stage == stage and other.number != number:
                self.versions[other.number] = other.model_copy(update={"stage": "archived"})
        self.versions[number] = self.versions[number].model_copy(update={"stage": stage.value})

    def promote(self, version: str | int, stage: Stage, reason: str) -> ModelVersion:
        target, current = self.get(version), self.production()
        values: dict[str, Any] = {Key.PROMOTED_TO: stage.value, Key.PROMOTION_REASON: reason}
        if stage is Stage.PRODUCTION and current is not None and current.number != target.number:
            values[Key.PREVIOUS_PRODUCTION] = current.number
        self._set_stage(target.number, stage)
        self.log_metadata(target.number, values)
        return self.get(target.number)

    def rollback(self, reason: str) -> ModelVersion:
        current = self.production()
        if current is None or Key.PREVIOUS_PRODUCTION not in current.metadata:
            raise RegistryError("Nothing to roll back to.")
        previous = int(current.metadata[Key.PREVIOUS_PRODUCTION])
        self._set_stage(previous, Stage.PRODUCTION)
        self.log_metadata(previous, {Key.PROMOTION_REASON: reason, Key.ROLLED_BACK_FROM: current.number})
        return self.get(previous)

    def model_dir(self, version: str | int) -> Path:
        found = self.get(version)
        if found.model_dir is None:
            raise RegistryError(f"{found.label} has no logged model_dir.")
        return found.model_dir
