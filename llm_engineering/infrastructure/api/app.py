"""The FastAPI app: /rag (JSON, SSE), OpenAI-compatible chat completions, feedback, health, metrics, page."""

import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from loguru import logger
from pydantic import BaseModel, Field, SecretStr
from starlette.concurrency import run_in_threadpool

from llm_engineering.domain.exceptions import (
    TwinError,
)
from llm_engineering.domain.inference import Feedback
from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.batching import ServiceBusyError
from llm_engineering.infrastructure.api.prometheus import ServiceMetrics
from llm_engineering.infrastructure.api.responses import (
    UNAVAILABLE,
    openai_chunks,
    openai_completion,
    public_message,
    rag_events,
    rag_response,
)
from llm_engineering.infrastructure.api.service import TwinParts, TwinService
from llm_engineering.infrastructure.monitoring.feedback_store import UnknownAnswerError

PAGE = Path(__file__).with_name("static") / "index.html"


class ServiceLimits(BaseModel):
    api_key: SecretStr | None = Field(None, description="Required as a Bearer token or X-API-Key when set.")
    max_body_bytes: int = Field(64 * 1024, gt=0, description="Largest request body; larger gets 413.")


class ApiError(Exception):
    """A request the service refuses: its HTTP status and a detail that says what to change."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


ServiceApp = FastAPI
"""The service's ASGI app, named so that callers outside this package need not import fastapi."""


def create_app(build: Callable[[], TwinParts], limits: ServiceLimits | None = None) -> ServiceApp:
    """The service; `build` makes its parts once, when the app starts (models load then, not per request)."""
    limits = limits or ServiceLimits()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = TwinService(await run_in_threadpool(build), metrics)
        logger.info("The twin is ready ({})", app.state.service.parts.model.model_id)
        yield
        app.state.service.close()

    app = FastAPI(title="LLM Twin", version="1", lifespan=lifespan)
    _add_middleware(app, limits, metrics)
    _add_error_handlers(app)

    def service(request: Request) -> TwinService:
        return request.app.state.service  # type: ignore[no-any-return]

    def authorized(request: Request) -> None:
        if limits.api_key is None:
            return
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if not secrets.compare_digest(given.encode(), limits.api_key.get_secret_value().encode()):
            raise ApiError(401, "Missing or wrong API key: send it as 'Authorization: Bearer <key>'.")

    guarded = [Depends(authorized)]
    Twin = Annotated[TwinService, Depends(service)]

    @app.post(
        "/rag",
        response_model=s.RagResponse,
        dependencies=guarded,
        responses=s.errors(400, 401, 413, 500, 503),
    )
    async def rag(body: s.RagRequest, twin: Twin) -> s.RagResponse:
        """Answer a question from the author's material, with the sources it cites."""
        done = await run_in_threadpool(twin.answer, body.query, body.max_tokens, "/rag")
        return rag_response(done)

    @app.post(
        "/rag/stream",
        dependencies=guarded,
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, **s.errors(400, 401, 413, 500, 503)},
    )
    async def rag_stream(body: s.RagRequest, twin: Twin) -> StreamingResponse:
        """The same answer as Server-Sent Events: `sources`, then `token`s, then `done` (or `error`)."""
        return StreamingResponse(rag_events(twin, body), media_type="text/event-stream")

    @app.post(
        "/v1/chat/completions",
        dependencies=guarded,
        response_model=None,
        responses={
            200: {"content": {"application/json": {}, "text/event-stream": {}}},
            **s.errors(400, 401, 413, 500, 503),
        },
    )
    async def chat_completions(body: s.ChatCompletionRequest, twin: Twin) -> Any:
        """OpenAI's chat-completions protocol; the last user message is the question."""
        question = body.question()
        max_tokens = body.max_completion_tokens or body.max_tokens
        if body.stream:
            usage_chunk = body.stream_options is not None and body.stream_options.include_usage
            return StreamingResponse(
                openai_chunks(twin, question, max_tokens, body.model, usage_chunk),
                media_type="text/event-stream",
            )
        done = await run_in_threadpool(twin.answer, question, max_tokens, "/v1/chat/completions")
        return openai_completion(done, body.model)

    @app.get("/v1/models", dependencies=guarded)
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "llm-twin", "object": "model", "owned_by": "llm-twin"}]}

    @app.post(
        "/feedback",
        status_code=201,
        response_model=s.FeedbackResponse,
        dependencies=guarded,
        responses=s.errors(400, 401, 404, 413, 503),
    )
    async def feedback(body: s.FeedbackRequest, twin: Twin) -> s.FeedbackResponse:
        """A 👍/👎 on an answer id, with an optional corrected text; kept in the warehouse."""
        item = Feedback(answer_id=body.answer_id, rating=body.rating, correction=body.correction)
        try:
            await run_in_threadpool(twin.parts.monitoring.add_feedback, item)
        except UnknownAnswerError as error:
            raise ApiError(
                404, f"No answer with id {body.answer_id!r}; rate an answer id the service gave."
            ) from error
        metrics.feedback.labels(body.rating).inc()
        return s.FeedbackResponse(id=item.id, answer_id=item.answer_id)

    @app.get("/health", response_model=s.HealthResponse)
    async def health() -> s.HealthResponse:
        """Liveness: the process answers."""
        return s.HealthResponse(status="ok")

    @app.get("/ready", response_model=s.HealthResponse, responses={503: {"model": s.HealthResponse}})
    async def ready(request: Request) -> Any:
        """Readiness: the model is loaded and every store answers."""
        checks = await run_in_threadpool(_run_checks, request.app.state.service.parts.ready_checks)
        ok = all(result == "ok" for result in checks.values())
        payload = s.HealthResponse(status="ok" if ok else "unavailable", checks=checks)
        return JSONResponse(payload.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        content, media_type = metrics.render()
        return Response(content, media_type=media_type)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        """A chat page: ask, watch the answer stream with its sources, rate it."""
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    return app


def _run_checks(checks: dict[str, Callable[[], None]]) -> dict[str, str]:
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except TwinError as error:
            results[name] = f"unavailable: {error}"
    return results


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    @app.exception_handler(ServiceBusyError)
    async def busy(request: Request, error: ServiceBusyError) -> JSONResponse:
        request.app.state.service.metrics.rejected.inc()
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "1"})

    for kind in UNAVAILABLE:

        @app.exception_handler(kind)
        async def unavailable(request: Request, error: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": public_message(error)}, status_code=500)


def _add_middleware(app: FastAPI, limits: ServiceLimits, metrics: ServiceMetrics) -> None:
    @app.middleware("http")
    async def limit_and_measure(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limits.max_body_bytes):
            response: Response = JSONResponse(
                {"detail": f"The request body is over {limits.max_body_bytes} bytes; send a shorter one."},
                status_code=413,
            )
        else:
            response = await call_next(request)
        endpoint = request.scope.get("route").path if request.scope.get("route") else "unmatched"  # type: ignore[union-attr]
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response
