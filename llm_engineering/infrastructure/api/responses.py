"""Response bodies of the service: the /rag JSON, its Server-Sent Events, and OpenAI's completion shapes."""

import json
import time
import uuid
from collections.abc import AsyncIterator, Generator
from typing import Any

from loguru import logger
from starlette.concurrency import run_in_threadpool

from llm_engineering.domain.exceptions import (
    FeatureStoreUnavailableError,
    LLMError,
    WarehouseUnavailableError,
)
from llm_engineering.domain.generation import Completion
from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.batching import ServiceBusyError
from llm_engineering.infrastructure.api.service import Answered, TwinService


def rag_response(done: Answered) -> s.RagResponse:
    prepared, trace = done.prepared, done.trace
    return s.RagResponse(
        answer=trace.answer,
        answer_id=trace.id,
        sources=prepared.sources,
        filters=prepared.retrieval.filters if prepared.retrieval else s.QueryFilters(),
        queries=prepared.retrieval.queries if prepared.retrieval else [],
        guardrails=trace.guardrails,
        timings_s={
            **trace.timings_s,
            "total": trace.total_latency_s,
            "first_token": trace.time_to_first_token_s or 0,
        },
        model=trace.model_id,
        model_version=trace.model_version,
    )


def _advance(pieces: Generator[str, None, Completion]) -> str | Completion:
    """The next piece, or the Completion the stream ends with (a StopIteration cannot cross threads)."""
    try:
        return next(pieces)
    except StopIteration as end:
        return end.value  # type: ignore[no-any-return]


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _stream_answer(
    twin: TwinService, question: str, max_tokens: int | None, endpoint: str
) -> AsyncIterator[tuple[str, Any]]:
    """("sources", prepared) once, ("token", text) per piece, then ("done", Answered)."""
    trace = twin.new_trace(endpoint)
    started = time.perf_counter()
    prepared = await run_in_threadpool(twin.prepare, question, trace)
    yield "sources", prepared
    if prepared.refusal is not None:
        yield "token", prepared.refusal
        yield "done", await run_in_threadpool(twin.refused, prepared, trace, started)
        return
    pieces = twin.stream(prepared, trace, started, max_tokens)
    while isinstance(step := await run_in_threadpool(_advance, pieces), str):
        yield "token", step
    yield "done", await run_in_threadpool(twin.finish, prepared, step, trace, started)


async def rag_events(twin: TwinService, body: s.RagRequest) -> AsyncIterator[str]:
    try:
        async for kind, value in _stream_answer(twin, body.query, body.max_tokens, "/rag/stream"):
            if kind == "sources":
                yield _sse("sources", [source.model_dump() for source in value.sources])
            elif kind == "token":
                yield _sse("token", {"text": value})
            else:
                yield _sse("done", rag_response(value).model_dump(mode="json"))
    except Exception as error:  # the stream has started: the error can only travel as an event
        yield _sse("error", {"detail": public_message(error)})


async def openai_chunks(
    twin: TwinService, question: str, max_tokens: int | None, model: str, usage_chunk: bool = False
) -> AsyncIterator[str]:
    """OpenAI's chunk stream; with `usage_chunk` (`stream_options.include_usage`) a last chunk without
    choices carries the token usage, as OpenAI sends it."""
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, str] | None, finish: str | None, usage: dict[str, int] | None = None) -> str:
        body: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant"}, None)
    try:
        async for kind, value in _stream_answer(twin, question, max_tokens, "/v1/chat/completions"):
            if kind == "token":
                yield chunk({"content": value}, None)
            elif kind == "done":
                yield chunk({}, "stop")
                if usage_chunk:
                    yield chunk(None, None, value.trace.usage())
    except Exception as error:  # the stream has started: the error can only travel in it
        yield f"data: {json.dumps({'error': {'message': public_message(error)}})}\n\n"
    yield "data: [DONE]\n\n"


def openai_completion(done: Answered, model: str) -> dict[str, Any]:
    trace = done.trace
    return {
        "id": f"chatcmpl-{trace.id}",
        "object": "chat.completion",
        "created": int(trace.created_at.timestamp()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": trace.answer}, "finish_reason": "stop"}
        ],
        "usage": trace.usage(),
        "sources": [source.model_dump() for source in done.prepared.sources],
    }


UNAVAILABLE = (WarehouseUnavailableError, FeatureStoreUnavailableError, LLMError)


def public_message(error: Exception) -> str:
    if isinstance(error, (ServiceBusyError, *UNAVAILABLE)):
        return str(error)
    logger.opt(exception=error).error("Unexpected error while answering")
    return "Internal error while answering; the service log has the details."
