"""What Opik gets of a served answer: the trace, a span per timed stage, and the users' verdicts as scores.

Each function returns the keyword arguments of one opik SDK call (`Opik.trace`, `Opik.span`, a score of
`Opik.log_traces_feedback_scores`). Opik wants client-chosen ids to be UUID v7; the ids here are derived
from the answer id, so a trace sent twice keeps its id and a verdict finds its trace. Token usage and the
model belong to an `llm` span (a trace has no usage of its own).
"""

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import Feedback, Trace

GENERATION = "generation"
FEEDBACK_SCORE = "user_feedback"
"""The score a 👍 (1) or 👎 (0) becomes on the answer's trace; Opik keeps the latest per trace."""


def uuid7(at: datetime, seed: str | None = None) -> UUID:
    """A UUID v7 (RFC 9562) whose 48-bit prefix is `at` in Unix milliseconds, so ids sort by time.

    The 74 other bits are random, or derived from `seed` so that the same trace always gets the same id.
    A naive `at` is read as UTC.
    """
    millis = int(utc(at).timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise TwinError(f"{at.isoformat()} is outside the range a UUID v7 can hold (1970 to 10889).")
    entropy = hashlib.sha256(seed.encode()).digest()[:10] if seed is not None else os.urandom(10)
    rand = int.from_bytes(entropy)
    rand_a, rand_b = (rand >> 68) & 0xFFF, rand & ((1 << 62) - 1)
    return UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def utc(moment: datetime) -> datetime:
    """`moment` in UTC, a naive one read as UTC: Opik's backend parses instants written with a `Z`."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def trace_id(trace: Trace) -> str:
    """The Opik id of a trace: the same for every send of the same answer."""
    return str(uuid7(trace.created_at, seed=trace.id))


def trace_fields(trace: Trace, project: str) -> dict[str, Any]:
    """`Opik.trace` arguments: the question in, the answer out, and what the warehouse keeps as metadata."""
    tags = [
        trace.status,
        *sorted({f"guardrail-{v.action}" for v in trace.guardrails if v.action != "passed"}),
    ]
    fields: dict[str, Any] = {
        "id": trace_id(trace),
        "project_name": project,
        "name": trace.endpoint.strip("/") or "request",
        "start_time": utc(trace.created_at),
        "end_time": utc(trace.created_at + timedelta(seconds=trace.total_latency_s)),
        "input": {"query": trace.query},
        "output": {"answer": trace.answer},
        "metadata": {
            "answer_id": trace.id,
            "endpoint": trace.endpoint,
            "model_id": trace.model_id,
            "model_version": trace.model_version,
            "retrieved_chunk_ids": trace.retrieved_chunk_ids,
            "guardrails": [verdict.model_dump() for verdict in trace.guardrails],
            "timings_s": trace.timings_s,
            "total_latency_s": trace.total_latency_s,
            "time_to_first_token_s": trace.time_to_first_token_s,
            "usage": trace.usage(),
        },
        "tags": tags,
    }
    if trace.status == "error":
        # The service keeps no traceback (it never leaks one), but Opik requires the field.
        fields["error_info"] = {"exception_type": "error", "message": trace.error or "", "traceback": ""}
    return fields


def span_fields(trace: Trace, project: str) -> list[dict[str, Any]]:
    """`Opik.span` arguments, a span per timed stage laid end to end from the trace's start (stages run one
    after another).

    The `generation` stage, or else the time left after the timed stages, becomes the `llm` span that
    carries the model and token usage; a trace whose model was never called (blocked input) has none.
    """
    stages = dict(trace.timings_s)
    called_model = (
        trace.prompt_tokens + trace.completion_tokens > 0 or trace.time_to_first_token_s is not None
    )
    if called_model and GENERATION not in stages:
        elapsed = sum(stages.values())
        stages[GENERATION] = max(trace.total_latency_s - elapsed, 0.0)
    spans: list[dict[str, Any]] = []
    start = utc(trace.created_at)
    for stage, seconds in stages.items():
        stop = start + timedelta(seconds=seconds)
        span: dict[str, Any] = {
            "id": str(uuid7(start, seed=f"{trace.id}/{stage}")),
            "trace_id": trace_id(trace),
            "project_name": project,
            "name": stage,
            "type": "general",
            "start_time": start,
            "end_time": stop,
        }
        if stage == GENERATION and called_model:
            span |= {"type": "llm", "model": trace.model_id, "usage": trace.usage()}
            span |= {"input": {"query": trace.query}, "output": {"answer": trace.answer}}
        spans.append(span)
        start = stop
    return spans


def feedback_score(feedback: Feedback, trace: Trace, project: str) -> dict[str, Any]:
    """One score of `Opik.log_traces_feedback_scores`: 1 for 👍, 0 for 👎, the correction as its reason."""
    return {
        "id": trace_id(trace),
        "project_name": project,
        "name": FEEDBACK_SCORE,
        "value": 1.0 if feedback.rating == "up" else 0.0,
        "category_name": feedback.rating,
        "reason": feedback.correction,
    }
