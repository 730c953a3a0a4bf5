"""Prompt monitoring: traces and feedback on every warehouse backend, the Opik sink, and the fan-out."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pymongo
import pytest
from pydantic import SecretStr
from pymongo.database import Database

from llm_engineering.domain.exceptions import TwinError, WarehouseUnavailableError
from llm_engineering.domain.feedback import UNKNOWN_SOURCE, RatedAnswer
from llm_engineering.domain.inference import Feedback, GuardrailVerdict, Trace
from llm_engineering.infrastructure.container.service import service_monitoring
from llm_engineering.infrastructure.monitoring.fan_out import FanOutSink, FeedbackFanOut, TraceDeliveryError
from llm_engineering.infrastructure.monitoring.feedback_store import (
    MongoFeedbackStore,
    UnknownAnswerError,
    feedback_from_mongo,
    feedback_to_mongo,
)
from llm_engineering.infrastructure.monitoring.opik import OpikSink
from llm_engineering.infrastructure.monitoring.opik.records import uuid7
from llm_engineering.infrastructure.monitoring.opik.sdk import import_opik
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import open_warehouse
from tests.support.opik_server import OpikServer, is_uuid7
from tests.support.service import fake_parts, running

# The backend fixtures (`warehouse_database` on embedded, mongoeco and MongoDB) come from this plugin.
pytest_plugins = ["tests.support.mongo_backends"]

T0 = datetime(2025, 5, 4, 12, 30, 15, 250000, tzinfo=UTC)


def trace(**fields: Any) -> Trace:
    """A served answer with everything filled in; `fields` override."""
    defaults: dict[str, Any] = {
        "created_at": T0,
        "query": "How do you pick a batch size?",
        "answer": "Start small and double it while the loss still falls.",
        "model_id": "twin-llama-3.1-8b",
        "model_version": "4",
        "retrieved_chunk_ids": ["c1", "c2"],
        "time_to_first_token_s": 0.35,
        "total_latency_s": 2.0,
        "prompt_tokens": 812,
        "completion_tokens": 64,
        "guardrails": [
            GuardrailVerdict(name="pii", stage="input", action="redacted", detail="1 e-mail address"),
            GuardrailVerdict(name="toxicity", stage="output", action="passed"),
        ],
        "timings_s": {"self_query": 0.1, "search": 0.4, "rerank.cross_encoder": 0.25},
    }
    return Trace(**(defaults | fields))


def feedback(
    answer_id: str, rating: str, at: datetime, correction: str | None = None, source: str = "c0ffee"
) -> Feedback:
    return Feedback(answer_id=answer_id, rating=rating, correction=correction, created_at=at, source=source)


@pytest.fixture
def monitoring(warehouse_database: Database) -> MongoFeedbackStore:
    return MongoFeedbackStore(warehouse_database)


# --- the warehouse ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(trace(), id="answered"),
        pytest.param(
            trace(created_at=datetime(2025, 1, 2, 3, 4, 5, 6000, tzinfo=timezone(timedelta(hours=-5)))),
            id="other-timezone",
        ),
        pytest.param(
            trace(
                answer="",
                status="blocked",
                guardrails=[GuardrailVerdict(name="injection", stage="input", action="blocked")],
                model_version=None,
                time_to_first_token_s=None,
                timings_s={},
            ),
            id="blocked",
        ),
        pytest.param(trace(status="error", error="LLMError: the model server timed out"), id="error"),
    ],
)
def test_a_trace_comes_back_equal(monitoring: MongoFeedbackStore, stored: Trace) -> None:
    monitoring.record(stored)
    assert monitoring.get_trace(stored.id) == stored


def test_times_are_kept_to_the_millisecond(monitoring: MongoFeedbackStore) -> None:
    stored = trace(created_at=T0.replace(microsecond=123456))
    monitoring.record(stored)
    found = monitoring.get_trace(stored.id)
    assert found is not None
    assert found.created_at == T0.replace(microsecond=123000)
    assert found.model_copy(update={"created_at": stored.created_at}) == stored


def test_recording_a_trace_again_replaces_it(monitoring: MongoFeedbackStore) -> None:
    first = trace()
    monitoring.record(first)
    monitoring.record(first.model_copy(update={"answer": "Edited."}))
    found = monitoring.get_trace(first.id)
    assert found is not None and found.answer == "Edited."
    assert monitoring.get_trace("no-such-answer") is None


def test_indexes_serve_the_lookups(warehouse_database: Database) -> None:
    MongoFeedbackStore(warehouse_database)
    trace_keys = [list(index["key"]) for index in warehouse_database["traces"].list_indexes()]
    feedback_keys = [list(index["key"]) for index in warehouse_database["feedback"].list_indexes()]
    assert ["created_at"] in trace_keys
    assert ["answer_id"] in feedback_keys


def test_feedback_on_an_unknown_answer_is_refused(monitoring: MongoFeedbackStore) -> None:
    monitoring.record(trace())
    with pytest.raises(UnknownAnswerError, match="no-such-answer") as raised:
        monitoring.add_feedback(feedback("no-such-answer", "up", T0))
    assert isinstance(raised.value, TwinError) and isinstance(raised.value, LookupError)
    assert list(monitoring.iter_feedback()) == []


def test_feedback_is_all_kept_oldest_first(monitoring: MongoFeedbackStore) -> None:
    answer = trace()
    monitoring.record(answer)
    verdicts = [
        feedback(answer.id, "down", T0 + timedelta(minutes=5), correction="Use gradient accumulation."),
        feedback(answer.id, "up", T0 + timedelta(minutes=1)),
        feedback(answer.id, "down", T0 + timedelta(minutes=3)),
    ]
    for verdict in verdicts:
        monitoring.add_feedback(verdict)
    monitoring.add_feedback(verdicts[0])  # sent twice, kept once
    assert list(monitoring.iter_feedback()) == sorted(verdicts, key=lambda verdict: verdict.created_at)


def test_feedback_comes_back_equal_with_its_source(monitoring: MongoFeedbackStore) -> None:
    answer = trace()
    monitoring.record(answer)
    sent = feedback(answer.id, "down", T0, correction="Use gradient accumulation.", source="5e3a9c0d1b2f4e67")
    monitoring.add_feedback(sent)
    assert list(monitoring.iter_feedback()) == [sent]
    assert feedback_from_mongo(feedback_to_mongo(sent)) == sent


def test_feedback_stored_before_sources_were_kept_reads_as_unknown(
    monitoring: MongoFeedbackStore, warehouse_database: Database
) -> None:
    answer = trace()
    monitoring.record(answer)
    legacy = feedback_to_mongo(feedback(answer.id, "up", T0))
    del legacy["source"]
    warehouse_database["feedback"].insert_one(legacy)
    [stored] = list(monitoring.iter_feedback())
    assert stored.source == UNKNOWN_SOURCE and stored.answer_id == answer.id


def test_rated_answers_join_the_latest_verdict_with_its_answer(monitoring: MongoFeedbackStore) -> None:
    liked, corrected, unrated = trace(query="q1", answer="a1"), trace(query="q2", answer="a2"), trace()
    for stored in (liked, corrected, unrated):
        monitoring.record(stored)
    monitoring.add_feedback(feedback(corrected.id, "up", T0 + timedelta(minutes=1)))
    monitoring.add_feedback(feedback(liked.id, "up", T0 + timedelta(minutes=2), source="s-liked"))
    monitoring.add_feedback(
        feedback(corrected.id, "down", T0 + timedelta(minutes=3), correction="better a2", source="s-fixed")
    )
    assert list(monitoring.rated_answers()) == [
        RatedAnswer(
            trace_id=liked.id,
            question="q1",
            answer="a1",
            rating="up",
            source="s-liked",
            created_at=T0 + timedelta(minutes=2),
        ),
        RatedAnswer(
            trace_id=corrected.id,
            question="q2",
            answer="a2",
            rating="down",
            correction="better a2",
            source="s-fixed",
            created_at=T0 + timedelta(minutes=3),
        ),
    ]


# --- an unreachable warehouse ----------------------------------------------------------------------


def closed_local_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_warehouse_raises_warehouse_unavailable() -> None:
    port = closed_local_port()
    client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=200)
    try:
        with pytest.raises(WarehouseUnavailableError, match="poe local-infrastructure-up") as raised:
            MongoFeedbackStore(client["twin"])
        assert f"MongoDB at 127.0.0.1:{port} did not answer while creating the monitoring" in str(
            raised.value
        )
    finally:
        client.close()


@pytest.fixture(scope="module")
def stopped_warehouse() -> Iterator[tuple[MongoFeedbackStore, Trace]]:
    """Monitoring on a mongoeco server that answered once (one trace stored) and then stopped."""
    # Imported here: importing the plugin module before pytest registers it would skip its assert rewriting.
    from tests.support.mongo_backends import mongoeco_python, start_mongoeco_server, stop_mongoeco_server

    python = mongoeco_python()
    if not python.exists():
        pytest.skip("mongoeco server not installed (see tests/support/mongo_backends.py)")
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as stderr:
        process, uri = start_mongoeco_server(python, stderr)
        client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=200, tz_aware=True)
        try:
            monitoring = MongoFeedbackStore(client["twin_monitoring_test"])
            stored = trace()
            monitoring.record(stored)
        finally:
            stop_mongoeco_server(process)
        try:
            yield monitoring, stored
        finally:
            client.close()


OPERATIONS: dict[str, Callable[[MongoFeedbackStore, Trace], object]] = {
    "record": lambda monitoring, stored: monitoring.record(trace()),
    "get_trace": lambda monitoring, stored: monitoring.get_trace(stored.id),
    "add_feedback": lambda monitoring, stored: monitoring.add_feedback(feedback(stored.id, "up", T0)),
    "iter_feedback": lambda monitoring, stored: list(monitoring.iter_feedback()),
    "rated_answers": lambda monitoring, stored: list(monitoring.rated_answers()),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_warehouse_that_went_down_raises_warehouse_unavailable(
    stopped_warehouse: tuple[MongoFeedbackStore, Trace], operation: str
) -> None:
    monitoring, stored = stopped_warehouse
    with pytest.raises(WarehouseUnavailableError, match="DATABASE_HOST"):
        OPERATIONS[operation](monitoring, stored)


# --- UUID v7 ---------------------------------------------------------------------------------------


def millis_of(value: UUID) -> int:
    return value.int >> 80


def test_uuid7_is_valid_and_carries_its_millisecond() -> None:
    made = uuid7(T0)
    assert is_uuid7(str(made))
    assert millis_of(made) == int(T0.timestamp() * 1000)
    assert millis_of(uuid7(T0.replace(tzinfo=None))) == millis_of(made)  # naive reads as UTC


def test_uuid7_sorts_by_time_and_repeats_for_a_seed() -> None:
    moments = [T0 + timedelta(milliseconds=step * 7) for step in range(50)]
    made = [str(uuid7(moment)) for moment in moments]
    assert sorted(made) == made
    assert len(set(made)) == len(made)
    assert uuid7(T0, seed="answer-1") == uuid7(T0, seed="answer-1") != uuid7(T0, seed="answer-2")
    assert uuid7(T0) != uuid7(T0)


def test_uuid7_refuses_times_before_1970() -> None:
    with pytest.raises(TwinError, match="UUID v7"):
        uuid7(datetime(1969, 12, 31, tzinfo=UTC))


# --- Opik, through its SDK -------------------------------------------------------------------------

TRACES = ("POST", "/api/v1/private/traces/batch")
USAGE = {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876}


@pytest.fixture(autouse=True)
def no_opik_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads OPIK_* variables too: a developer's key or workspace must not leak into these tests."""
    for name in ("OPIK_URL", "OPIK_API_KEY", "OPIK_WORKSPACE", "OPIK_URL_OVERRIDE", "OPIK_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)


def first_error(action: Callable[[], object], within_s: float = 10.0) -> TwinError:
    """The TwinError that `action`, called again and again, raises first; fails after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            action()
        except TwinError as error:
            return error
        time.sleep(0.05)
    pytest.fail(f"no TwinError within {within_s} s")


def test_opik_receives_the_trace_its_spans_and_their_usage() -> None:
    sent = trace(timings_s={"self_query": 0.1, "search": 0.4, "rerank": 0.25})
    with OpikServer() as server:
        sink = OpikSink(server.base_url, "llm-twin")
        sink.record(sent)
        sink.close()
    assert server.refusals == []
    [body] = server.traces
    assert is_uuid7(body["id"]) and millis_of(UUID(body["id"])) == int(T0.timestamp() * 1000)
    assert body["id"] == str(uuid7(T0, seed=sent.id))  # re-sending the same trace keeps its Opik id
    assert (body["project_name"], body["name"], body["source"]) == ("llm-twin", "rag", "sdk")
    assert (body["start_time"], body["end_time"]) == (
        "2025-05-04T12:30:15.250000Z",
        "2025-05-04T12:30:17.250000Z",
    )
    assert body["input"] == {"query": sent.query}
    assert body["output"] == {"answer": sent.answer}
    assert body["tags"] == ["ok", "guardrail-redacted"]
    metadata = body["metadata"]
    assert metadata["answer_id"] == sent.id
    assert (metadata["model_id"], metadata["model_version"]) == ("twin-llama-3.1-8b", "4")
    assert metadata["retrieved_chunk_ids"] == ["c1", "c2"]
    assert metadata["guardrails"][0] == {
        "name": "pii",
        "stage": "input",
        "action": "redacted",
        "detail": "1 e-mail address",
    }
    assert metadata["usage"] == USAGE
    assert metadata["timings_s"] == sent.timings_s
    assert metadata["time_to_first_token_s"] == pytest.approx(0.35)
    spans = sorted(server.spans, key=lambda span: span["start_time"])
    assert [(span["name"], span["type"]) for span in spans] == [
        ("self_query", "general"),
        ("search", "general"),
        ("rerank", "general"),
        ("generation", "llm"),
    ]
    assert all(span["trace_id"] == body["id"] and is_uuid7(span["id"]) for span in spans)
    assert all(span["project_name"] == "llm-twin" for span in spans)
    assert [span["start_time"] for span in spans[1:]] == [span["end_time"] for span in spans[:-1]]
    assert spans[-1]["end_time"] == body["end_time"]
    assert spans[-1]["model"] == "twin-llama-3.1-8b"
    assert spans[-1]["usage"].items() >= USAGE.items()  # the SDK adds the same counts as original_usage.*


def test_opik_gets_times_as_utc_instants() -> None:
    sent = trace(created_at=datetime(2025, 1, 2, 3, 4, 5, 6000, tzinfo=timezone(timedelta(hours=-5))))
    with OpikServer() as server:
        sink = OpikSink(server.base_url, "llm-twin")
        sink.record(sent)
        sink.close()
    assert server.refusals == []
    assert server.traces[0]["start_time"] == "2025-01-02T08:04:05.006000Z"


@pytest.mark.parametrize(
    ("changes", "span_names", "error_info"),
    [
        pytest.param(
            {
                "status": "blocked",
                "answer": "",
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "time_to_first_token_s": None,
                "timings_s": {},
            },
            [],
            None,
            id="blocked-before-the-model",
        ),
        pytest.param(
            {"timings_s": {"search": 0.5, "generation": 1.2}},
            ["search", "generation"],
            None,
            id="timed-generation",
        ),
        pytest.param(
            {"status": "error", "error": "LLMError: timed out"},
            ["self_query", "search", "rerank.cross_encoder", "generation"],
            {"exception_type": "error", "message": "LLMError: timed out", "traceback": ""},
            id="error",
        ),
    ],
)
def test_opik_spans_and_errors_follow_the_trace(
    changes: dict[str, Any], span_names: list[str], error_info: dict[str, str] | None
) -> None:
    with OpikServer() as server:
        sink = OpikSink(server.base_url, "llm-twin")
        sink.record(trace(**changes))
        sink.close()
    assert server.refusals == []
    spans = sorted(server.spans, key=lambda span: span["start_time"])
    assert [span["name"] for span in spans] == span_names
    assert [span["type"] for span in spans].count("llm") == (1 if span_names else 0)
    assert server.traces[0].get("error_info") == error_info


@pytest.mark.parametrize(
    ("rating", "correction", "value"),
    [("up", None, 1.0), ("down", "Use gradient accumulation.", 0.0)],
)
def test_a_verdict_reaches_opik_as_a_score_on_the_answers_trace(
    monitoring: MongoFeedbackStore, rating: str, correction: str | None, value: float
) -> None:
    answered = trace()
    with OpikServer() as server:
        opik = OpikSink(server.base_url, "llm-twin")
        store = FeedbackFanOut(monitoring, [opik])
        FanOutSink([store, opik]).record(answered)  # as the service records it
        verdict = feedback(answered.id, rating, T0, correction=correction)
        store.add_feedback(verdict)
        with pytest.raises(UnknownAnswerError):
            store.add_feedback(feedback("no-such-answer", "up", T0))
        opik.close()
    assert server.refusals == []
    assert list(store.iter_feedback()) == [verdict]  # the warehouse keeps it as before
    expected = {
        "id": server.traces[0]["id"],
        "project_name": "llm-twin",
        "name": "user_feedback",
        "value": value,
        "category_name": rating,
        "reason": correction,
        "source": "sdk",
    }
    assert server.scores == [expected]


class RecordingFeedbackSink:
    def __init__(self) -> None:
        self.recorded: list[tuple[Feedback, Trace]] = []

    def record_feedback(self, feedback: Feedback, trace: Trace) -> None:
        self.recorded.append((feedback, trace))


def test_a_verdict_on_an_answer_deleted_meanwhile_is_kept_and_not_passed_on(
    monitoring: MongoFeedbackStore, warehouse_database: Database
) -> None:
    answered = trace()
    monitoring.record(answered)
    sink = RecordingFeedbackSink()

    class DeletingStore(MongoFeedbackStore):
        def add_feedback(self, feedback: Feedback) -> None:
            super().add_feedback(feedback)
            warehouse_database["traces"].delete_one({"_id": feedback.answer_id})

    verdict = feedback(answered.id, "up", T0)
    FeedbackFanOut(DeletingStore(warehouse_database), [sink]).add_feedback(verdict)
    assert list(monitoring.iter_feedback()) == [verdict]
    assert sink.recorded == []


@pytest.mark.parametrize(
    ("api_key", "workspace", "expected"),
    [
        (None, None, {"comet-workspace": "default"}),
        ("key-123", None, {"authorization": "key-123", "comet-workspace": "default"}),
        ("key-123", "twin-team", {"authorization": "key-123", "comet-workspace": "twin-team"}),
    ],
)
def test_opik_writes_carry_the_key_only_when_set_and_the_workspace(
    api_key: str | None, workspace: str | None, expected: dict[str, str]
) -> None:
    with OpikServer(api_key=api_key, workspace=workspace) as server:
        sink = OpikSink(server.base_url, "p", SecretStr(api_key) if api_key else None, workspace)
        sink.record(trace())
        sink.close()
    assert len(server.traces) == 1
    for headers in server.headers:
        lowered = {name.lower(): value for name, value in headers.items()}
        sent = {name: lowered[name] for name in ("authorization", "comet-workspace") if name in lowered}
        assert sent == expected


@pytest.mark.parametrize(
    ("server_args", "status", "sink_key", "sink_workspace", "path", "hint"),
    [
        ({}, 400, None, None, "/api", "Opik refused the fields"),
        ({"api_key": "right"}, None, "wrong", None, "/api", "check OPIK_API_KEY"),
        ({"workspace": "team"}, None, None, "other", "/api", "check OPIK_API_KEY and OPIK_WORKSPACE"),
    ],
)
def test_what_opik_refuses_is_reported_with_a_hint(
    server_args: dict[str, str],
    status: int | None,
    sink_key: str | None,
    sink_workspace: str | None,
    path: str,
    hint: str,
) -> None:
    with OpikServer(**server_args) as server:
        server.status = status
        sink = OpikSink(server.origin + path, "p", SecretStr(sink_key) if sink_key else None, sink_workspace)
        sink.record(trace())  # only queued: the SDK has not tried yet
        with pytest.raises(TwinError, match=hint) as raised:
            sink.flush()
        sink.close()  # what was reported is not reported again
    assert f"Opik at {server.origin + path}" in str(raised.value)
    assert "CreateTraceBatchMessage" in str(raised.value)
    assert server.traces == []


def test_an_opik_url_missing_its_api_path_is_reported() -> None:
    with OpikServer() as server:
        sink = OpikSink(server.origin, "p")  # the health check then answers 404
        error = first_error(lambda: sink.record(trace()))
        with pytest.raises(TwinError, match=r"never took [1-9]\d* message\(s\)"):
            sink.close(timeout_s=2)
    assert "fix OPIK_URL (a local Opik's API base ends in /api)" in str(error)
    assert ("GET", "/is-alive/ping") in server.requests
    assert server.traces == []


@pytest.mark.slow  # the SDK waits about 5 s and then 6 s between its three tries
def test_an_opik_failing_with_500_is_retried_then_reported() -> None:
    with OpikServer() as server:
        server.status = 500
        sink = OpikSink(server.base_url, "p")
        started = time.monotonic()
        sink.record(trace())
        assert time.monotonic() - started < 0.5
        with pytest.raises(TwinError, match=r"CreateTraceBatchMessage: 500.*Opik is failing"):
            sink.flush(timeout_s=60)
        sink.close()
    assert server.requests.count(TRACES) == 3


def test_an_unreachable_opik_never_holds_up_an_answer_and_is_reported() -> None:
    url = f"http://127.0.0.1:{closed_local_port()}/api"
    sink = OpikSink(url, "p")
    error = first_error(lambda: sink.record(trace()))
    assert f"Opik at {url} does not answer its health check" in str(error)
    assert "OPIK_URL" in str(error)
    started = time.monotonic()
    with pytest.raises(TwinError, match="does not answer"):
        sink.record(trace())  # queued for replay, and reported again
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    with pytest.raises(TwinError, match=r"never took [1-9]\d* message\(s\), lost as the sink closed"):
        sink.close(timeout_s=2)
    assert time.monotonic() - started < 5


def test_a_stalled_opik_never_holds_up_an_answer_and_gets_it_later() -> None:
    with OpikServer() as server:
        server.delay_s = 2.0
        sink = OpikSink(server.base_url, "p")
        started = time.monotonic()
        sink.record(trace())
        assert time.monotonic() - started < 0.5
        with pytest.raises(TwinError, match=r"had not finished sending after 0\.5 s"):
            sink.flush(timeout_s=0.5)
        sink.close()
    assert len(server.traces) == 1


def test_the_opik_sdk_is_imported_on_first_use_with_its_own_reporting_off() -> None:
    """Run where pytest is not loaded: opik only spares test runs its Sentry reports and usage analytics."""
    script = """
import sys
import llm_engineering.infrastructure.container
import llm_engineering.infrastructure.container.service
import llm_engineering.infrastructure.monitoring.opik
assert "opik" not in sys.modules, "opik was imported before a sink was built"
from llm_engineering.infrastructure.monitoring.opik.sdk import import_opik
opik = import_opik()
import sentry_sdk
from opik.analytics import rules
assert "pytest" not in sys.modules
assert not sentry_sdk.get_client().is_active(), "opik started reporting errors to Sentry"
config = opik.config.OpikConfig()
assert not rules.reporting_allowed(config) and config.analytics_url == "", "opik would report usage"
"""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OPIK_")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=environment
    )
    assert result.returncode == 0, result.stderr


def test_without_the_opik_sdk_the_sink_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opik", None)  # what `import opik` finds when it is not installed
    with pytest.raises(TwinError, match=r"not installed: `pip install .*\[monitoring\]'`, or unset OPIK_URL"):
        OpikSink("http://127.0.0.1:5173/api", "p")


def test_an_opik_imported_earlier_with_its_sentry_reports_on_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import opik.config
    import sentry_sdk

    class ReportingToOpiksSentry:
        dsn = opik.config.OpikConfig().sentry_dsn

        def is_active(self) -> bool:
            return True

    monkeypatch.setattr(sentry_sdk, "get_client", ReportingToOpiksSentry)
    with pytest.raises(TwinError, match="OPIK_SENTRY_ENABLE=false"):
        import_opik()


@pytest.mark.parametrize(
    ("method", "path", "item", "refusal"),
    [
        (
            "POST",
            "traces",
            {"start_time": "2025-05-04T12:30:15Z", "usage": {"prompt_tokens": 1}},
            "unrecognized field",
        ),
        (
            "POST",
            "traces",
            {"id": "5b7f4a2e-5f0e-4a47-9d1c-1f1e8a1b2c3d", "start_time": "2025-05-04T12:30:15Z"},
            "UUID v7",
        ),
        ("POST", "traces", {"name": "no start"}, "start_time is required"),
        ("POST", "spans", {"start_time": "2025-05-04T12:30:15Z", "type": "retriever"}, "type"),
        ("PUT", "feedback-scores", {"id": str(uuid7(T0)), "name": "user_feedback", "value": 1}, "source"),
        (
            "PUT",
            "feedback-scores",
            {"id": str(uuid7(T0)), "name": "user_feedback", "value": "up", "source": "sdk"},
            "value must be a number",
        ),
    ],
)
def test_the_stand_in_refuses_what_opik_refuses(
    method: str, path: str, item: dict[str, Any], refusal: str
) -> None:
    """The sink tests above rely on these checks; a 400 here is what a real Opik would answer."""
    key = "scores" if path == "feedback-scores" else path
    route = f"/v1/private/traces/{path}" if key == "scores" else f"/v1/private/{path}/batch"
    with OpikServer() as server:
        response = httpx.request(method, f"{server.base_url}{route}", json={key: [item]})
    assert response.status_code == 400
    assert refusal in " ".join(response.json()["errors"])


def test_the_service_sends_each_answer_and_its_verdict_to_opik(tmp_path: Path) -> None:
    with OpikServer() as server:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp_path / "monitored",
            opik_url=server.base_url,
            opik_project="twin-service",
        )
        monitoring, extra_sinks = service_monitoring(settings, open_warehouse(settings).feedback)
        parts = fake_parts(tmp_path, monitoring=monitoring, extra_sinks=extra_sinks)
        with running(lambda: parts) as url:
            answer = httpx.post(
                f"{url}/rag", json={"query": "How does Iris Calder chunk documents?"}, timeout=10
            )
            rating = {"answer_id": answer.json()["answer_id"], "rating": "down", "correction": "Shorter."}
            verdict = httpx.post(f"{url}/feedback", json=rating, timeout=5)
            metrics = httpx.get(f"{url}/metrics", timeout=5).text
        [opik] = extra_sinks
        assert isinstance(opik, OpikSink)
        opik.close()
    assert (answer.status_code, verdict.status_code) == (200, 201)
    assert "twin_trace_failures_total 0.0" in metrics
    assert server.refusals == []
    [sent] = server.traces
    assert (sent["metadata"]["answer_id"], sent["project_name"]) == (rating["answer_id"], "twin-service")
    assert [span["type"] for span in server.spans].count("llm") == 1
    assert [(score["id"], score["value"], score["reason"]) for score in server.scores] == [
        (sent["id"], 0.0, "Shorter.")
    ]


def test_without_opik_url_the_service_monitors_in_the_warehouse_alone(monitoring: MongoFeedbackStore) -> None:
    store, extra_sinks = service_monitoring(Settings(_env_file=None), monitoring)  # type: ignore[call-arg]
    assert (store.store, store.sinks, extra_sinks) == (monitoring, [], [])


# --- fanning out -----------------------------------------------------------------------------------


class RecordingSink:
    """A sink that keeps what it got, or raises `error` instead."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.recorded: list[Trace] = []

    def record(self, trace: Trace) -> None:
        if self.error:
            raise self.error
        self.recorded.append(trace)


def test_fan_out_keeps_the_warehouse_record_when_opik_fails(monitoring: MongoFeedbackStore) -> None:
    with OpikServer() as server:
        server.status = 400
        opik = OpikSink(server.base_url, "p")
        sink = FanOutSink([monitoring, opik])
        sent: list[Trace] = []

        def record() -> None:
            sent.append(trace())
            sink.record(sent[-1])

        error = first_error(record)  # the first trace is refused in the background, the next one says so
        with pytest.raises(TwinError, match="refused or lost"):
            opik.close()  # the traces recorded after it were refused too
    assert isinstance(error, TraceDeliveryError)
    assert [name for name, _ in error.failures] == ["OpikSink"]
    assert all(monitoring.get_trace(each.id) == each for each in sent)


@pytest.mark.parametrize(
    ("errors", "failed"),
    [
        ([None, None], []),
        ([WarehouseUnavailableError("down"), None], ["down"]),
        ([WarehouseUnavailableError("down"), TwinError("opik 500")], ["down", "opik 500"]),
    ],
)
def test_fan_out_tries_every_sink_before_raising(errors: list[Exception | None], failed: list[str]) -> None:
    sinks = [RecordingSink(error) for error in errors]
    sent = trace()
    if failed:
        with pytest.raises(TraceDeliveryError) as raised:
            FanOutSink(sinks).record(sent)
        assert [str(error) for _, error in raised.value.failures] == failed
    else:
        FanOutSink(sinks).record(sent)
    assert [sink.recorded for sink in sinks] == [[] if error else [sent] for error in errors]


def test_fan_out_lets_bugs_through_and_needs_a_sink() -> None:
    with pytest.raises(KeyError):
        FanOutSink([RecordingSink(KeyError("bug"))]).record(trace())
    with pytest.raises(TwinError, match="at least one sink"):
        FanOutSink([])
