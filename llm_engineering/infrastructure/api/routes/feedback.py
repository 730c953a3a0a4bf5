"""/feedback: a 👍/👎 on an answer, kept in the warehouse for training with a hashed name of who gave it."""

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from llm_engineering.domain.feedback import feedback_source
from llm_engineering.domain.inference import Feedback
from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.dependencies import GUARDED, ServiceLimits, Twin
from llm_engineering.infrastructure.api.errors import ApiError
from llm_engineering.infrastructure.monitoring.feedback_store import UnknownAnswerError

router = APIRouter(dependencies=GUARDED)

_SALT = "llm-twin-feedback"  # without an API key to salt with; addresses are few, so this only obscures


def _source(request: Request) -> str:
    """Who sent the feedback: the client's address, hashed with the service's API key as the salt.

    The address and not the key names the client: every client presents the one key the service has. Behind
    a proxy, run uvicorn with --proxy-headers so the address is the client's, not the proxy's.
    """
    limits: ServiceLimits = request.app.state.limits
    salt = limits.api_key.get_secret_value() if limits.api_key else _SALT
    return feedback_source(request.client.host if request.client else "", salt)


@router.post(
    "/feedback",
    status_code=201,
    response_model=s.FeedbackResponse,
    responses=s.errors(400, 401, 404, 413, 503),
)
async def feedback(body: s.FeedbackRequest, twin: Twin, request: Request) -> s.FeedbackResponse:
    """A 👍/👎 on an answer id, with an optional corrected text; kept in the warehouse."""
    item = Feedback(
        answer_id=body.answer_id, rating=body.rating, correction=body.correction, source=_source(request)
    )
    try:
        await run_in_threadpool(twin.parts.monitoring.add_feedback, item)
    except UnknownAnswerError as error:
        detail = f"No answer with id {body.answer_id!r}; rate an answer id the service gave."
        raise ApiError(404, detail) from error
    twin.metrics.feedback.labels(body.rating).inc()
    return s.FeedbackResponse(id=item.id, answer_id=item.answer_id)
