"""The FastAPI app: its lifespan builds the twin once, then routers per resource serve it."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from loguru import logger
from starlette.concurrency import run_in_threadpool

from llm_engineering.infrastructure.api.dependencies import ServiceLimits
from llm_engineering.infrastructure.api.errors import add_error_handlers
from llm_engineering.infrastructure.api.middleware import BodyLimit, Measured
from llm_engineering.infrastructure.api.prometheus import ServiceMetrics
from llm_engineering.infrastructure.api.reloading import Reloader
from llm_engineering.infrastructure.api.routes import chat, feedback, health, rag
from llm_engineering.infrastructure.api.service import TwinParts, TwinService

__all__ = ["ServiceApp", "ServiceLimits", "create_app"]

ServiceApp = FastAPI
"""The service's ASGI app, named so that callers outside this package need not import fastapi."""

SPARE_THREADS = 16
"""Worker threads beyond one per admitted request, for readiness checks, feedback and metrics."""


def create_app(build: Callable[[], TwinParts], limits: ServiceLimits | None = None) -> ServiceApp:
    """The service; `build` makes its parts once, when the app starts (models load then, not per request).
    With a model source in the parts, it then follows the registry's production version (`api.reloading`)."""
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = await run_in_threadpool(build)
        # Each admitted request may wait on a worker thread for its next piece: with fewer threads than
        # requests, the queue's own bound (a 503) could never be reached before requests hang.
        anyio.to_thread.current_default_thread_limiter().total_tokens = parts.max_queue + SPARE_THREADS
        service = app.state.service = TwinService(parts, metrics)
        reloader = Reloader(service, parts.source, metrics.model_reloads)
        logger.info("The twin is ready ({})", service.model_name)
        reloader.start()
        yield
        reloader.stop()
        service.close()

    app = FastAPI(title="LLM Twin", version="1", lifespan=lifespan)
    app.state.limits = limits or ServiceLimits()
    app.add_middleware(BodyLimit, max_bytes=app.state.limits.max_body_bytes)
    app.add_middleware(Measured, metrics=metrics)  # added last: the outer one, so it counts 413s too
    add_error_handlers(app)
    for router in (rag.router, chat.router, feedback.router, health.router):
        app.include_router(router)
    return app
