"""The service's request and response bodies; the OpenAI-compatible ones keep that protocol's names."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from llm_engineering.application.twin import Ask
from llm_engineering.domain.generation import ChatMessage
from llm_engineering.domain.inference import GuardrailVerdict, QueryFilters, Source

MAX_QUERY_CHARS = 4000


class Turn(BaseModel):
    """An earlier message of the conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_QUERY_CHARS * 4)


class RagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question to the twin.")
    history: list[Turn] = Field(
        default_factory=list,
        max_length=64,
        description="The conversation before the question, oldest first; a follow-up is searched with it.",
    )
    max_tokens: StrictInt | None = Field(
        None, ge=1, description="Most tokens in the answer (capped by the service)."
    )

    def ask(self, endpoint: str, stream: bool) -> Ask:
        history = [ChatMessage(role=turn.role, content=turn.content) for turn in self.history]
        return Ask(
            question=self.query, history=history, endpoint=endpoint, stream=stream, max_tokens=self.max_tokens
        )


class RagResponse(BaseModel):
    answer: str
    answer_id: str = Field(description="Send it to /feedback to rate this answer.")
    finish_reason: Literal["stop", "length", "content_filter"] = Field(
        description="stop: the answer ended; length: cut at max_tokens; content_filter: a guardrail "
        "replaced it",
    )
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


class TextPart(BaseModel):
    """A part of a message's content; the twin reads text only."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"] = Field(description="Only text parts; images, audio and files are not read.")
    text: str = Field(max_length=MAX_QUERY_CHARS * 4)


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[TextPart] = Field(description="Text, or a list of text parts (joined).")

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    """OpenAI's `stream_options`: `include_usage` ends a stream with a chunk carrying the token usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request: the last message is the user's question, the earlier user and
    assistant messages its conversation, system (and developer) messages the client's instructions."""

    model_config = ConfigDict(extra="ignore")  # OpenAI clients send more options than a twin needs

    model: str = Field(description="The served model: `llm-twin` or the versioned name /v1/models lists.")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=64)
    max_tokens: StrictInt | None = Field(None, ge=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: StrictInt = Field(1, ge=1, le=1, description="One choice per request; the twin answers once.")
    stream: bool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> "ChatCompletionRequest":
        last = self.messages[-1]
        if last.role != "user" or not last.text.strip():
            raise ValueError("The last message must be the user's question, with text.")
        if len(self.messages[-1].text) > MAX_QUERY_CHARS:
            raise ValueError(f"The question is over {MAX_QUERY_CHARS} characters; ask a shorter one.")
        return self

    def ask(self) -> Ask:
        instructions = [m.text for m in self.messages if m.role in ("system", "developer")]
        return Ask(
            question=self.messages[-1].text.strip(),
            history=[
                ChatMessage(role=m.role, content=m.text)
                for m in self.messages[:-1]
                if m.role in ("user", "assistant")
            ],
            instructions="\n\n".join(instructions) if instructions else None,
            endpoint="/v1/chat/completions",
            stream=self.stream,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
        )


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
    model_version: str | None = Field(
        None, description="The registry version answering now; None for a pinned folder or the LLM_BACKEND."
    )


class ErrorResponse(BaseModel):
    detail: str


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer."""
    described = {
        400: "The body is not readable JSON, or a system message the service refuses",
        404: "No such answer id, or no such model",
        401: "Missing or wrong API key",
        413: "Request body too large",
        500: "Internal error (no internals shown)",
        503: "Queue full (Retry-After) or a store or model server unavailable",
    }
    return {status: {"model": ErrorResponse, "description": described[status]} for status in statuses}
