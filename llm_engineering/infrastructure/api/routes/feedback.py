"""/feedback: a 👍/👎 on an answer, kept in the warehouse for training."""

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from llm_engineering.domain.inference import Feedback
from llm_engineering.infrastructure.api import schemas as s
from llm_engineering.infrastructure.api.dependencies import GUARDED, Twin
from llm_engineering.infrastructure.api.errors import ApiError
from llm_engineering.infrastructure.monitoring.feedback_store import UnknownAnswerError

router = APIRouter(dependencies=GUARDED)


@router.post(
    "/feedback",
    status_code=201,
    response_model=s.FeedbackResponse,
    responses=s.errors(400, 401, 404, 413, 503),
)
async def feedback(body: s.FeedbackRequest, twin: Twin) -> s.FeedbackResponse:
    """A 👍/👎 on an answer id, with an optional corrected text; kept in the warehouse."""
    item = Feedback(answer_id=body.answer_id, rating=body.rating, correction=body.correction)
    try:
        await run_in_threadpool(twin.parts.monitoring.add_feedback, item)
    except UnknownAnswerError as error:
        detail = f"No answer with id {body.answer_id!r}; rate an answer id the service gave."
        raise ApiError(404, detail) from error
    twin.metrics.feedback.labels(body.rating).inc()
    return s.FeedbackResponse(id=item.id, answer_id=item.answer_id)
