"""What the inference side passes around: filters, retrieved chunks, guardrail verdicts, traces, feedback."""

from datetime import UTC, datetime
from typing import Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.feedback import UNKNOWN_SOURCE


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid4().hex


class QueryFilters(BaseModel):
    """Payload filters a question implies (self-query): whose writing, and which platform."""

    model_config = ConfigDict(frozen=True)

    author_id: str | None = None
    author_full_name: str | None = None
    platform: str | None = None

    def where(self) -> dict[str, str]:
        """The equality filters for the vector index, by payload field."""
        fields = {"author_id": self.author_id, "platform": self.platform}
        return {name: value for name, value in fields.items() if value is not None}


class RetrievedChunk(BaseModel):
    """One chunk found for a question, with where it came from and how it ranked."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    document_id: str
    collection: str
    link: str
    platform: str
    author_full_name: str
    content: str
    score: float = Field(description="Similarity after the last ranking stage; higher is better.")


class Source(BaseModel):
    """A document an answer may cite as [n]: its title and link, the chunks the prompt held, its best one."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1, description="The number the prompt gave the document.")
    title: str
    link: str
    chunk_ids: list[str] = Field(min_length=1, description="The document's chunks in the prompt, best first.")
    platform: str
    score: float = Field(description="The score of its best chunk.")
    excerpt: str = Field(description="The start of its best chunk, after the guardrails.")


GuardrailStage = Literal["input", "retrieval", "output"]
GuardrailAction = Literal["passed", "redacted", "blocked", "flagged"]


class GuardrailVerdict(BaseModel):
    """What one guardrail found and did: let the text through, redact part of it, block it, or flag it."""

    model_config = ConfigDict(frozen=True)

    name: str
    stage: GuardrailStage
    action: GuardrailAction
    detail: str = ""

    @property
    def blocked(self) -> bool:
        return self.action == "blocked"


class Trace(BaseModel):
    """One request to the twin, as prompt monitoring keeps it."""

    id: str = Field(default_factory=_new_id, description="The answer id that feedback refers to.")
    created_at: datetime = Field(default_factory=_now)
    endpoint: str = "/rag"
    query: str
    answer: str = ""
    status: Literal["ok", "blocked", "error", "abandoned"] = Field(
        "ok", description="abandoned: the client left before the answer's end."
    )
    error: str | None = None
    finish_reason: Literal["stop", "length", "content_filter"] | None = Field(
        None, description="Why the answer ended: the model ended it, max tokens, or a guardrail replaced it."
    )
    model_id: str = ""
    model_version: str | None = None
    retrieved_chunk_ids: list[str] = Field(default_factory=list)
    time_to_first_token_s: float | None = None
    total_latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    guardrails: list[GuardrailVerdict] = Field(default_factory=list)
    timings_s: dict[str, float] = Field(default_factory=dict, description="Seconds per pipeline stage.")

    def usage(self) -> dict[str, int]:
        """Token usage as OpenAI and Opik spell it."""
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }


class Feedback(BaseModel):
    """A user's verdict on one answer, optionally with the text they would have wanted."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=_new_id)
    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    correction: str | None = Field(None, max_length=20_000)
    source: str = Field(
        UNKNOWN_SOURCE,
        max_length=64,
        description="Who gave it, as a salted hash the service makes (never a raw key or address); "
        "feedback stored before sources were kept reads as unknown.",
    )
    created_at: datetime = Field(default_factory=_now)
