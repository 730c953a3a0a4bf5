"""The small interfaces use cases are written against; infrastructure implements them."""

from collections.abc import Generator, Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from llm_engineering.domain.documents import DataCategory, Document, UserDocument
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.domain.inference import Feedback, RetrievedChunk, Trace
from llm_engineering.domain.registry import ModelVersion, Stage


class InsertOutcome(StrEnum):
    STORED = "stored"
    ALREADY_PRESENT = "already_present"


class DocumentStore(Protocol):
    """The warehouse: users and their documents, one document per page (per canonical link)."""

    def get_or_create_user(self, first_name: str, last_name: str) -> UserDocument:
        """The user `find_user` finds, or a new one with that spelling."""
        ...

    def find_user(self, first_name: str, last_name: str) -> UserDocument | None:
        """The user with that name ignoring case and spacing (of namesakes, the first stored), or None."""
        ...

    def get_user(self, user_id: UUID) -> UserDocument | None:
        """The user with that id, or None when there is none."""
        ...

    def list_users(self) -> list[UserDocument]: ...

    def upsert_user(self, user: UserDocument) -> None: ...

    def link_exists(self, link: str) -> bool:
        """Whether any document of any category has the canonical link of `link`, as its link or an alias."""
        ...

    def insert(self, document: Document) -> InsertOutcome:
        """Store a new document; one whose canonical link (or an alias's) is already stored is left out."""
        ...

    def upsert(self, document: Document) -> None:
        """Store a document by id, replacing the one with the same id."""
        ...

    def iter_documents(self, category: DataCategory, author_id: UUID | None = None) -> Iterator[Document]: ...

    def count(self, category: DataCategory) -> int: ...


class Crawler(Protocol):
    """Turns one link into the documents it holds, raising CrawlError with a reason."""

    def crawl(self, link: str, author: UserDocument) -> list[Document]: ...


Where = dict[str, str | list[str]]
"""A payload filter: each field must equal the value, or be one of the values of a list."""


class VectorPoint(BaseModel):
    """A point of a vector collection; `vector` is None in payload-only collections."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    payload: dict[str, Any]
    vector: list[float] | None = None


class ScoredPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    score: float
    payload: dict[str, Any]


class VectorIndex(Protocol):
    """The feature store: named collections of points with payloads, searchable by vector."""

    def ensure_collection(self, name: str, vector_size: int | None) -> None:
        """Create the collection on first use (payload-only when `vector_size` is None)."""
        ...

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None: ...

    def delete_where(self, name: str, where: Where) -> None: ...

    def scroll(self, name: str, where: Where | None = None) -> Iterator[VectorPoint]:
        """Every matching point with its payload (no vectors), fetched in pages."""
        ...

    def search(
        self, name: str, vector: Sequence[float], limit: int, where: Where | None = None
    ) -> list[ScoredPoint]: ...

    def count(self, name: str, where: Where | None = None) -> int: ...


class Embedder(Protocol):
    """A text embedding model and its tokenizer."""

    model_id: str
    dimension: int
    max_tokens: int
    """The most content tokens one input may hold (the model's limit less its special tokens)."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Content tokens of each text, special tokens excluded."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class ChatModel(Protocol):
    """An LLM that answers conversations; used to generate datasets, to judge, and to serve."""

    model_id: str

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        """One completion per conversation, in order; backends batch or parallelise as they can."""
        ...


@runtime_checkable
class ChoiceScorer(Protocol):
    """A chat model that can say how likely each of a few one-token answers is, instead of writing one.

    Judges that are too small to follow an answer format still rank a fixed set of choices this way
    (probability-weighted scoring); backends that expose next-token probabilities implement it.
    """

    model_id: str

    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        """Per conversation, the probability of each choice as the reply's first token, summing to 1."""
        ...


class TraceSink(Protocol):
    """Where prompt monitoring sends one trace per request (the warehouse, Opik)."""

    def record(self, trace: Trace) -> None: ...


class FeedbackStore(Protocol):
    """Traces and the users' feedback on answers, kept in the warehouse."""

    def record(self, trace: Trace) -> None: ...

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with that id, or None when there is none."""
        ...

    def add_feedback(self, feedback: Feedback) -> None: ...

    def iter_feedback(self) -> Iterator[Feedback]: ...


class Reranker(Protocol):
    """Orders retrieved chunks by relevance to the question and keeps the best."""

    name: str

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk], keep: int) -> list[RetrievedChunk]:
        """The `keep` most relevant chunks, best first, each scored by this reranker."""
        ...


@runtime_checkable
class StreamingChatModel(Protocol):
    """A chat model that can hand out an answer piece by piece as it is generated."""

    model_id: str

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        """The answer's text in pieces, in order; joined they are the whole answer. Returns (as the
        generator's value) the Completion: that text with the backend's prompt and completion token counts."""
        ...


class ModelRegistry(Protocol):
    """The model registry: the twin's versions, their stages, and the facts logged on each.

    Versions are named by number (`3`, `"3"`) or by name; an absent one raises RegistryError.
    """

    def latest(self) -> ModelVersion:
        """The newest version: what the last training run registered."""
        ...

    def production(self) -> ModelVersion | None:
        """The version in production, or None while none has been promoted to it."""
        ...

    def get(self, version: str | int) -> ModelVersion: ...

    def list_versions(self) -> list[ModelVersion]:
        """Every version, newest first."""
        ...

    def promote(self, version: str | int, stage: Stage, reason: str) -> ModelVersion:
        """Move a version to `stage`, recording who, when and why; the version holding it loses it."""
        ...

    def rollback(self, reason: str) -> ModelVersion:
        """Give production back to the version the current one replaced; returns that version."""
        ...

    def log_metadata(self, version: str | int, values: Mapping[str, Any]) -> None: ...

    def model_dir(self, version: str | int) -> Path:
        """The merged model folder logged on the version; RegistryError when none was logged."""
        ...


class ModelLoader(Protocol):
    """Loads the models an evaluation answers with, from a registry folder or the bundled base."""

    def load(self, model_dir: Path, label: str) -> ChatModel:
        """The model saved in `model_dir`, answering under `label` as its model_id."""
        ...

    def base(self, label: str) -> ChatModel:
        """The base model the twin is fine-tuned from."""
        ...


class SupportChecker(Protocol):
    """Says, for each (statement, passage) pair, whether the passage supports the statement."""

    name: str

    def supports(self, pairs: Sequence[tuple[str, str]]) -> list[bool]: ...


class AuthorshipVerifier(Protocol):
    """Trained on one author's texts against other texts; says how likely each new text is the author's."""

    def fit(self, author_texts: Sequence[str], other_texts: Sequence[str]) -> "AuthorshipVerifier":
        """A new verifier fitted on these texts; this one is left unchanged, so it can be fitted per fold."""
        ...

    def author_probability(self, texts: Sequence[str]) -> list[float]:
        """Per text, the probability (0 to 1) that the author wrote it."""
        ...


class PieceSink(Protocol):
    """Receives one new piece of the answer to the conversation at `index` of a batch."""

    def __call__(self, index: int, piece: str) -> None: ...


@runtime_checkable
class BatchStreamingChatModel(Protocol):
    """A chat model that streams every answer of a batch at once: streams and whole answers with one
    generation config share one batched call."""

    model_id: str

    def generate_streaming(
        self, conversations: Sequence[Conversation], config: GenerationConfig, emit: PieceSink
    ) -> list[Completion]:
        """`generate`'s completions; meanwhile `emit(index, piece)` gets each new piece of the answer to
        `conversations[index]`, in order, and an answer's pieces join to its completion's text. `emit` may
        run on the backend's own threads while it generates, so it must return quickly."""
        ...


@runtime_checkable
class SamplingChatModel(Protocol):
    """A chat model that samples several answers to one prompt at little more than the cost of one."""

    model_id: str

    def sample(
        self, conversations: Sequence[Conversation], config: GenerationConfig, count: int
    ) -> list[list[Completion]]:
        """`count` sampled answers per conversation, in order; `config.temperature` must be above 0."""
        ...
