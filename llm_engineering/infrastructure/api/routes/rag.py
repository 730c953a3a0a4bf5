"""/rag: a question (and its conversation) answered from the author's material, whole or as events."""

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.dependencies import GUARDED, Twin
from llm_engineering.infrastructure.api.rendering import EventReader, rag_events, rag_response

router = APIRouter(dependencies=GUARDED)


@router.post("/rag", response_model=s.RagResponse, responses=s.errors(400, 401, 413, 500, 503))
async def rag(body: s.RagRequest, twin: Twin) -> s.RagResponse:
    """Answer a question from the author's material, with the documents it cites."""
    done = await run_in_threadpool(twin.answer, body.ask("/rag", stream=False))
    return rag_response(done.retrieved, done.finished)


@router.post(
    "/rag/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **s.errors(400, 401, 413, 500, 503)},
)
async def rag_stream(body: s.RagRequest, twin: Twin) -> StreamingResponse:
    """The same answer as Server-Sent Events: `sources`, then `token`s, then `done` (or `error`). A full
    queue is a 503 before the stream starts."""
    reader = EventReader(twin.events(body.ask("/rag/stream", stream=True)))
    retrieved = await reader.first()
    return StreamingResponse(rag_events(retrieved, reader), media_type="text/event-stream")
