"""The service's request and response bodies; the OpenAI-compatible ones keep that protocol's names."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from llm_engineering.domain.inference import GuardrailVerdict, QueryFilters, Source

MAX_QUERY_CHARS = 4000


class RagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question to the twin.")
    max_tokens: StrictInt | None = Field(
        None, ge=1, description="Most tokens in the answer (capped by the service)."
    )


class RagResponse(BaseModel):
    answer: str
    answer_id: str = Field(description="Send it to /feedback to rate this answer.")
    sources: list[Source]
    filters: QueryFilters
    queries: list[str] = Field(description="The searches run: the question and its rewrites.")
    guardrails: list[GuardrailVerdict]
    timings_s: dict[str, float]
    model: str
    model_version: str | None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    correction: str | None = Field(None, max_length=20_000, description="What the answer should have said.")


class FeedbackResponse(BaseModel):
    id: str
    answer_id: str


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str = Field(max_length=MAX_QUERY_CHARS * 4)


class StreamOptions(BaseModel):
    """OpenAI's `stream_options`: `include_usage` ends a stream with a chunk carrying the token usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request; the last user message is the question, retrieval adds the rest."""

    model_config = ConfigDict(extra="ignore")  # OpenAI clients send more options than a twin needs

    model: str = "llm-twin"
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=64)
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _has_a_question(self) -> "ChatCompletionRequest":
        if not self.question():
            raise ValueError("The messages hold no user message with text to answer.")
        return self

    def question(self) -> str:
        """The last user message's text: what the twin answers."""
        return next((m.content.strip() for m in reversed(self.messages) if m.role == "user"), "")


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    detail: str


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer."""
    described = {
        400: "The body is not readable JSON",
        401: "Missing or wrong API key",
        404: "No such answer id",
        413: "Request body too large",
        500: "Internal error (no internals shown)",
        503: "Queue full (Retry-After) or a store or model server unavailable",
    }
    return {status: {"model": ErrorResponse, "description": described[status]} for status in statuses}
