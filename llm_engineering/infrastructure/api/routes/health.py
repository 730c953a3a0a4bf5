"""Liveness, readiness, metrics and the chat page: the routes that need no API key."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.dependencies import Twin

PAGE = Path(__file__).parents[1] / "static" / "index.html"

router = APIRouter()


@router.get("/health", response_model=s.HealthResponse)
async def health(twin: Twin) -> s.HealthResponse:
    """Liveness: the process answers, with the version it answers with."""
    return s.HealthResponse(status="ok", model_version=twin.model_version)


@router.get("/ready", response_model=s.HealthResponse, responses={503: {"model": s.HealthResponse}})
async def ready(twin: Twin) -> Any:
    """Readiness: every store and model server an answer needs answers; and which version answers."""
    checks = await run_in_threadpool(run_checks, twin.parts.ready_checks)
    ok = all(result == "ok" for result in checks.values())
    payload = s.HealthResponse(
        status="ok" if ok else "unavailable", checks=checks, model_version=twin.model_version
    )
    return JSONResponse(payload.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(twin: Twin) -> Response:
    content, media_type = twin.metrics.render()
    return Response(content, media_type=media_type)


@router.get("/", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    """A chat page: converse, watch each answer stream with its sources, rate it."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


def run_checks(checks: dict[str, Callable[[], None]]) -> dict[str, str]:
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except TwinError as error:
            results[name] = f"unavailable: {error}"
    return results
