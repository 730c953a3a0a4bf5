"""Traces and verdicts handed to the opik SDK, whose background threads batch, send, retry and replay them.

`record` and `record_feedback` only queue, so an answer never waits on Opik. The SDK retries 429s, 5xx
and lost connections, keeps what it could not send while Opik does not answer its health check
(`GET {OPIK_URL}/is-alive/ping`) and replays it once Opik answers again. What it gives up on, and an Opik
that does not answer, come back as a TwinError from the next `record` (which the service counts and logs)
or from `flush` and `close`. `close` runs at process exit if nothing called it.
"""

import atexit
import threading
from collections.abc import Sequence
from typing import Any, Self

from loguru import logger
from pydantic import SecretStr

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import Feedback, Trace
from llm_engineering.infrastructure.monitoring.opik.records import feedback_score, span_fields, trace_fields
from llm_engineering.infrastructure.monitoring.opik.sdk import FLUSH_TIMEOUT_S, import_opik
from llm_engineering.infrastructure.settings import Settings

_ADVICE = {
    400: "Opik refused the fields; see its REST API reference",
    401: "check OPIK_API_KEY",
    403: "check OPIK_API_KEY and OPIK_WORKSPACE",
    404: "check OPIK_URL (a local Opik's API base ends in /api, e.g. http://localhost:5173/api)",
}
_FAILING = "Opik is failing; the warehouse still has the traces"


class OpikSink:
    """A `TraceSink` and `FeedbackSink` sending to the Opik at `url` (its API base) through the opik SDK."""

    def __init__(
        self, url: str, project: str, api_key: SecretStr | None = None, workspace: str | None = None
    ) -> None:
        opik = import_opik()
        self.url, self.project = url, project
        key = api_key.get_secret_value() if api_key else None
        self._client = opik.Opik(host=url, project_name=project, workspace=workspace, api_key=key)
        try:
            # Whether Opik answers the SDK's health check, and what waits for it: opik 2 has no public
            # accessor, and without them an Opik down from the start would lose every trace unreported.
            self._replay = self._client._resources.replay_manager
        except AttributeError as error:
            raise TwinError(
                f"opik {opik.__version__} keeps its connection state elsewhere than opik 2.2, which this "
                "sink was written for; install the locked version (`pip install -c requirements.lock opik`)."
            ) from error
        self._lock = threading.Lock()
        self._losses_reported, self._closed = 0, False
        atexit.register(self._close_at_exit)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if not settings.opik_url:
            raise TwinError("OPIK_URL is not set; set it to send traces to Opik.")
        return cls(settings.opik_url, settings.opik_project, settings.opik_api_key, settings.opik_workspace)

    def record(self, trace: Trace) -> None:
        """Queue the trace and its spans; a TwinError reports what Opik lost since the last report, or that it
        does not answer (the trace then waits to be replayed)."""
        self._client.trace(**trace_fields(trace, self.project))
        for span in span_fields(trace, self.project):
            self._client.span(**span)
        _raise(self._losses() + self._outage())

    def record_feedback(self, feedback: Feedback, trace: Trace) -> None:
        """Queue a verdict on `trace` as its `user_feedback` score; what Opik loses shows at the next
        `record`."""
        self._client.log_traces_feedback_scores([feedback_score(feedback, trace, self.project)])

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Send what is queued, waiting at most `timeout_s`; a TwinError says what was lost, what is still
        queued, or that Opik does not answer."""
        self._client.flush(timeout=timeout_s)
        result = self._client.last_flush_result
        unsent = []
        if result is not None and not result.flushed:
            unsent = [
                f"Opik at {self.url} had not finished sending after {timeout_s} s "
                f"({result.remaining_queue_size} message(s) still queued); is it overloaded?"
            ]
        _raise(self._losses() + self._outage() + unsent)

    def close(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Send what is queued, waiting at most `timeout_s`, and stop the SDK's threads; a TwinError says what
        was lost, including what waited for an Opik that never answered."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._close_at_exit)
        self._client.flush(timeout=timeout_s)
        # What waits for an Opik that does not answer is deleted with the SDK's replay store at `end`.
        connected = self._replay.has_server_connection
        waiting = 0 if connected else self._replay.database_manager.failed_messages_count()
        result = self._client.end(timeout=timeout_s)
        problems = self._losses()
        if waiting < 0:
            problems.append(
                f"Opik at {self.url} does not answer and the SDK's replay store failed: what waited for "
                "Opik is lost, how much is unknown."
            )
        left = max(waiting, 0) + (result.remaining_queue_size if result is not None else 0)
        if left:
            problems.append(f"Opik at {self.url} never took {left} message(s), lost as the sink closed.")
        _raise(problems)

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except TwinError as error:  # the process is ending: the log is the only place left to say it
            logger.error("{}", error)

    def _losses(self) -> list[str]:
        """What the SDK gave up sending since the last report (nothing: an empty list)."""
        report = self._client.get_errors_report()
        with self._lock:  # requests record concurrently: each loss is reported once
            new = report.total_dropped_messages - self._losses_reported
            self._losses_reported = max(self._losses_reported, report.total_dropped_messages)
        if new <= 0:
            return []
        failures = report.failures[-new:]
        return [
            f"Opik at {self.url} refused or lost {new} message(s) since the last report "
            f"({_listed(failures)}); {_advice(failures)}."
        ]

    def _outage(self) -> list[str]:
        if self._replay.has_server_connection:
            return []
        return [
            f"Opik at {self.url} does not answer its health check (GET …/is-alive/ping); what it has not "
            "taken waits and is sent when it answers again. Start Opik or fix OPIK_URL (a local Opik's API "
            "base ends in /api), or unset OPIK_URL."
        ]


def _raise(problems: list[str]) -> None:
    if problems:
        raise TwinError(" ".join(problems))


def _listed(failures: Sequence[Any]) -> str:
    """The kinds of message lost and why, e.g. `CreateTraceBatchMessage: 500`."""
    kinds = sorted(
        {f"{failure.message_type}: {failure.status_code or failure.reason.value}" for failure in failures}
    )
    detail = next((failure.detail for failure in reversed(failures) if failure.detail), "")
    answer = detail.rpartition("body: ")[2]  # an HTTP error's text ends with the body Opik answered
    return ", ".join(kinds) + (f"; last error: {answer[:300]}" if answer else "")


def _advice(failures: Sequence[Any]) -> str:
    advice = [_ADVICE.get(failure.status_code or 0, _FAILING) for failure in failures]
    return "; ".join(dict.fromkeys(advice))
