"""OpenAI's chat-completions protocol over the twin: conversations, streaming, the served model's name."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.dependencies import GUARDED, Twin
from llm_engineering.infrastructure.api.errors import ApiError
from llm_engineering.infrastructure.api.rendering import EventReader, openai_chunks, openai_completion
from llm_engineering.infrastructure.api.service import SERVED_NAME, TwinService

router = APIRouter(prefix="/v1", dependencies=GUARDED)


def _served_name(requested: str, twin: TwinService) -> str:
    """The served model's versioned name; `llm-twin` is its alias. Another name is a 404, as OpenAI says."""
    if requested not in (SERVED_NAME, twin.model_name):
        raise ApiError(
            404,
            f"No model {requested!r} here; this service answers as {twin.model_name!r} (or {SERVED_NAME!r}).",
        )
    return twin.model_name


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {"content": {"application/json": {}, "text/event-stream": {}}},
        **s.errors(400, 401, 404, 413, 500, 503),
    },
)
async def chat_completions(body: s.ChatCompletionRequest, twin: Twin) -> Any:
    """The last message is the question; earlier ones are its conversation, system messages instructions."""
    model = _served_name(body.model, twin)
    if not body.stream:
        done = await run_in_threadpool(twin.answer, body.ask())
        return openai_completion(done, model)
    reader = EventReader(twin.events(body.ask()))
    retrieved = await reader.first()
    usage = body.stream_options is not None and body.stream_options.include_usage
    return StreamingResponse(openai_chunks(retrieved, reader, model, usage), media_type="text/event-stream")


@router.get("/models")
async def models(twin: Twin) -> dict[str, Any]:
    """The served model, by its versioned name."""
    return {"object": "list", "data": [{"id": twin.model_name, "object": "model", "owned_by": SERVED_NAME}]}
