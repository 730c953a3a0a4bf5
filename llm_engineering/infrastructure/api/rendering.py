"""The answer's events rendered: the /rag JSON and its Server-Sent Events, and OpenAI's completion and
chunk shapes. Each only formats what `Twin.answer` yields."""

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from llm_engineering.application.twin import AnswerEvent, Finished, Retrieved, Token
from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.errors import public_message
from llm_engineering.infrastructure.api.service import Answered


def rag_response(retrieved: Retrieved, finished: Finished) -> s.RagResponse:
    prepared, trace = retrieved.prepared, finished.trace
    return s.RagResponse(
        answer=trace.answer,
        answer_id=trace.id,
        finish_reason=trace.finish_reason or "stop",
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


class EventReader:
    """Reads an answer's events on worker threads; `close` waits for a read in progress, so that a client
    leaving mid-answer closes it safely (a generator cannot be closed while another thread runs it)."""

    def __init__(self, events: Iterator[AnswerEvent]) -> None:
        self._events, self._lock = events, threading.Lock()

    def next(self) -> AnswerEvent | None:
        """The next event, or None at the end (a StopIteration cannot cross threads)."""
        with self._lock:
            return next(self._events, None)

    def close(self) -> None:
        with self._lock:
            self._events.close()  # type: ignore[attr-defined]

    async def first(self) -> Retrieved:
        """Advance to `Retrieved` before a response starts, so that a full queue or a store outage is still
        an HTTP error (503) rather than an error inside a stream that already said 200."""
        try:
            event = await run_in_threadpool(self.next)
        except BaseException:
            await self.aclose()
            raise
        if not isinstance(event, Retrieved):
            raise TypeError(f"An answer starts with Retrieved, not {event!r}")
        return event

    async def rest(self) -> AsyncIterator[AnswerEvent]:
        """The remaining events; the answer is closed at the end or when the client leaves."""
        try:
            while (event := await run_in_threadpool(self.next)) is not None:
                yield event
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):  # runs even when the client's leaving cancelled the response
            await run_in_threadpool(self.close)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def rag_events(retrieved: Retrieved, reader: EventReader) -> AsyncIterator[str]:
    """`sources` once, `token`s, then `done` with the whole /rag response (or `error`)."""
    yield _sse("sources", [source.model_dump() for source in retrieved.prepared.sources])
    try:
        async for event in reader.rest():
            if isinstance(event, Token):
                yield _sse("token", {"text": event.text})
            elif isinstance(event, Finished):
                yield _sse("done", rag_response(retrieved, event).model_dump(mode="json"))
    except Exception as error:  # the stream has started: the error can only travel as an event
        yield _sse("error", {"detail": public_message(error)})


async def openai_chunks(
    retrieved: Retrieved, reader: EventReader, model: str, usage_chunk: bool
) -> AsyncIterator[str]:
    """OpenAI's chunk stream; with `usage_chunk` (`stream_options.include_usage`) a last chunk without
    choices carries the token usage, as OpenAI sends it."""
    chunk_id, created = f"chatcmpl-{retrieved.answer_id}", int(time.time())

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
        async for event in reader.rest():
            if isinstance(event, Token):
                yield chunk({"content": event.text}, None)
            elif isinstance(event, Finished):
                yield chunk({}, event.trace.finish_reason or "stop")
                if usage_chunk:
                    yield chunk(None, None, event.trace.usage())
    except Exception as error:  # the stream has started: the error can only travel in it
        yield f"data: {json.dumps({'error': {'message': public_message(error)}})}\n\n"
    yield "data: [DONE]\n\n"


def openai_completion(done: Answered, model: str) -> dict[str, Any]:
    trace = done.finished.trace
    return {
        "id": f"chatcmpl-{trace.id}",
        "object": "chat.completion",
        "created": int(trace.created_at.timestamp()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": trace.answer},
                "finish_reason": trace.finish_reason or "stop",
            }
        ],
        "usage": trace.usage(),
        "sources": [source.model_dump() for source in done.retrieved.prepared.sources],
    }
