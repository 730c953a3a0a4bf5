"""How the service answers what goes wrong: one status per kind of error, a message that says what to do,
and never a stack trace."""

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException

from llm_engineering.application.answering import SystemMessageRefusedError
from llm_engineering.domain.exceptions import (
    FeatureStoreUnavailableError,
    LLMError,
    WarehouseUnavailableError,
)
from llm_engineering.infrastructure.api.batching import ServiceBusyError

UNAVAILABLE = (WarehouseUnavailableError, FeatureStoreUnavailableError, LLMError)
"""A store or the model server is down: 503, and the client may retry."""


class ApiError(HTTPException):
    """A request the service refuses: its HTTP status and a detail that says what to change. An HTTP
    exception, so that one raised while FastAPI reads the body keeps its status."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail, headers)
        self.status = status

    def __str__(self) -> str:
        return self.detail


class BodyTooLargeError(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is over {limit} bytes; send a shorter one.")


def public_message(error: Exception) -> str:
    """What a client may read about an error: the message of an expected one, nothing of a bug's."""
    if isinstance(error, (ApiError, ServiceBusyError, SystemMessageRefusedError, *UNAVAILABLE)):
        return str(error)
    logger.opt(exception=error).error("Unexpected error while answering")
    return "Internal error while answering; the service log has the details."


def error_response(request: Request, error: Exception) -> JSONResponse:
    """The JSON error for an exception: its status, its public message, Retry-After where a retry helps."""
    match error:
        case ApiError():
            status, headers = error.status, error.headers
        case ServiceBusyError():
            request.app.state.service.metrics.rejected.inc()
            status, headers = 503, {"Retry-After": "1"}
        case SystemMessageRefusedError():
            status, headers = 400, None
        case _ if isinstance(error, UNAVAILABLE):
            status, headers = 503, {"Retry-After": "5"}
        case _:
            status, headers = 500, None
    return JSONResponse(error_body(public_message(error), status), status_code=status, headers=headers)


_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    503: "service_unavailable",
}


def error_body(message: str, status: int, detail: object = None) -> dict[str, object]:
    """`detail` as FastAPI spells errors, and `error.message` as OpenAI does, which its clients show."""
    kind = _TYPES.get(status, "server_error")
    return {
        "detail": message if detail is None else detail,
        "error": {"message": message, "type": kind, "code": status},
    }


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 for a body that does not validate, each problem named by where it is."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc'] if part != 'body') or 'body'}: {problem['msg']}"
        for problem in error.errors()
    ]
    detail = jsonable_encoder(error.errors())
    return JSONResponse(error_body("; ".join(problems), 422, detail), status_code=422)


def add_error_handlers(app: FastAPI) -> None:
    """Errors raised by routes; a bug's 500 is made by the metrics middleware, so that it is counted."""
    for kind in (ApiError, ServiceBusyError, SystemMessageRefusedError, *UNAVAILABLE):
        app.add_exception_handler(kind, error_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
