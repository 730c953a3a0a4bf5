"""What wraps every request: the body size limit (chunked uploads included), and counting and timing each
response, streams to their last byte, errors included. Plain ASGI, so that a stream's client leaving
reaches the route as it would without them."""

import time

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_engineering.infrastructure.api.errors import BodyTooLargeError, error_body, error_response
from llm_engineering.infrastructure.api.prometheus import ServiceMetrics


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413: at once when Content-Length says so, and while reading a
    body sent without one (chunked), where the route's read fails with BodyTooLargeError."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            too_large = BodyTooLargeError(self.max_bytes)
            await JSONResponse(error_body(too_large.detail, 413), status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, counted, send)


class Measured:
    """Counts every response by endpoint and status and times it to its last byte (a stream's too, or
    until its client left); a bug is answered 500 here, so that it is counted like the rest."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def measured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, measured)
        except Exception as error:
            if status:  # the response has started: nothing else can be sent
                raise
            await error_response(Request(scope), error)(scope, receive, measured)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(endpoint, str(status or 500)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
