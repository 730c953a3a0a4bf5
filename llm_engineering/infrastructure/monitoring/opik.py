"""Sends traces to Opik over its REST API: one trace per request, with a span per timed stage.

Opik ingests `POST {base}/v1/private/traces/batch` (`{"traces": [...]}`, `start_time` required) and
`POST {base}/v1/private/spans/batch` (`{"spans": [...]}`); client-chosen ids must be UUID v7. Token
usage and the model belong to an `llm` span (the trace write has no `usage` field), and Opik Cloud wants
`authorization: <api key>` (no "Bearer") and `Comet-Workspace: <workspace>` headers.
"""

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from uuid import UUID

import httpx
from pydantic import SecretStr

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import Trace
from llm_engineering.infrastructure.settings import Settings

TRACES_PATH = "/v1/private/traces/batch"
SPANS_PATH = "/v1/private/spans/batch"
GENERATION = "generation"
_ADVICE = {
    400: "Opik refused the fields (Opik Cloud also refuses ids over 24 h old); see its REST API reference",
    401: "check OPIK_API_KEY",
    403: "check OPIK_API_KEY and OPIK_WORKSPACE",
    404: "check OPIK_URL (a local Opik's ends in /api, e.g. http://localhost:5173/api)",
}


def uuid7(at: datetime, seed: str | None = None) -> UUID:
    """A UUID v7 (RFC 9562) whose 48-bit prefix is `at` in Unix milliseconds, so ids sort by time.

    The 74 other bits are random, or derived from `seed` so that the same trace always gets the same id.
    A naive `at` is read as UTC.
    """
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    millis = int(moment.timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise TwinError(f"{at.isoformat()} is outside the range a UUID v7 can hold (1970 to 10889).")
    entropy = hashlib.sha256(seed.encode()).digest()[:10] if seed is not None else os.urandom(10)
    rand = int.from_bytes(entropy)
    rand_a, rand_b = (rand >> 68) & 0xFFF, rand & ((1 << 62) - 1)
    return UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z`, the form Opik's Java backend parses for instants."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def trace_to_opik(trace: Trace, project: str) -> dict[str, Any]:
    """One Opik trace write: the question in, the answer out, and what the warehouse keeps as metadata."""
    tags = [
        trace.status,
        *sorted({f"guardrail-{v.action}" for v in trace.guardrails if v.action != "passed"}),
    ]
    body: dict[str, Any] = {
        "id": str(uuid7(trace.created_at, seed=trace.id)),
        "project_name": project,
        "name": trace.endpoint.strip("/") or "request",
        "start_time": iso(trace.created_at),
        "end_time": iso(trace.created_at + timedelta(seconds=trace.total_latency_s)),
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
    if trace.time_to_first_token_s is not None:
        body["ttft"] = trace.time_to_first_token_s * 1000  # Opik counts it in milliseconds
    if trace.status == "error":
        # The service keeps no traceback (it never leaks one), but Opik requires the field.
        body["error_info"] = {"exception_type": "error", "message": trace.error or "", "traceback": ""}
    return body


def spans_to_opik(trace: Trace, project: str) -> list[dict[str, Any]]:
    """A span per timed stage, laid end to end from the trace's start (stages run one after another).

    The `generation` stage, or else the time left after the timed stages, becomes the `llm` span that
    carries the model and token usage; a trace whose model was never called (blocked input) has none.
    """
    trace_id = str(uuid7(trace.created_at, seed=trace.id))
    stages = dict(trace.timings_s)
    called_model = (
        trace.prompt_tokens + trace.completion_tokens > 0 or trace.time_to_first_token_s is not None
    )
    if called_model and GENERATION not in stages:
        elapsed = sum(stages.values())
        stages[GENERATION] = max(trace.total_latency_s - elapsed, 0.0)
    spans: list[dict[str, Any]] = []
    start = trace.created_at
    for stage, seconds in stages.items():
        stop = start + timedelta(seconds=seconds)
        span: dict[str, Any] = {
            "id": str(uuid7(start, seed=f"{trace.id}/{stage}")),
            "project_name": project,
            "trace_id": trace_id,
            "name": stage,
            "type": "general",
            "start_time": iso(start),
            "end_time": iso(stop),
        }
        if stage == GENERATION and called_model:
            span |= {"type": "llm", "model": trace.model_id, "usage": trace.usage()}
            span |= {"input": {"query": trace.query}, "output": {"answer": trace.answer}}
        spans.append(span)
        start = stop
    return spans


class OpikTraceSink:
    """A `TraceSink` posting each trace and its spans to Opik, synchronously: call it off the event loop."""

    def __init__(
        self,
        base_url: str,
        project: str,
        api_key: SecretStr | None = None,
        workspace: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        headers = {"authorization": api_key.get_secret_value()} if api_key else {}
        if workspace:
            headers["Comet-Workspace"] = workspace
        self._timeout_s = timeout_s
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, timeout_s: float = 5.0) -> Self:
        if not settings.opik_url:
            raise TwinError("OPIK_URL is not set; set it to send traces to Opik.")
        return cls(
            settings.opik_url,
            settings.opik_project,
            settings.opik_api_key,
            settings.opik_workspace,
            timeout_s,
        )

    def record(self, trace: Trace) -> None:
        """Send the trace, then its spans; a TwinError says what to fix when Opik refuses or is down."""
        self._post(TRACES_PATH, {"traces": [trace_to_opik(trace, self.project)]})
        spans = spans_to_opik(trace, self.project)
        if spans:
            self._post(SPANS_PATH, {"spans": spans})

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any]) -> None:
        where = f"Opik at {self.base_url}"
        try:
            response = self._client.post(path, json=body)
        except httpx.TimeoutException as error:
            raise TwinError(
                f"{where} did not answer within {self._timeout_s} s; is it overloaded?"
            ) from error
        except httpx.TransportError as error:
            raise TwinError(
                f"{where} could not be reached ({type(error).__name__}); start it, fix OPIK_URL, "
                "or unset OPIK_URL to keep traces in the warehouse only."
            ) from error
        status = response.status_code
        if not 200 <= status < 300:
            advice = _ADVICE.get(status, "Opik is failing; the warehouse still has the trace")
            raise TwinError(f"{where} answered {status} to {path}: {response.text[:300]}; {advice}.")
