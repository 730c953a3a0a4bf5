"""Prompt monitoring: traces and feedback on every warehouse backend, the Opik sink, and the fan-out."""

import socket
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
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
from llm_engineering.infrastructure.monitoring.fan_out import FanOutSink, TraceDeliveryError
from llm_engineering.infrastructure.monitoring.feedback_store import (
    MongoFeedbackStore,
    UnknownAnswerError,
    feedback_from_mongo,
    feedback_to_mongo,
)
from llm_engineering.infrastructure.monitoring.opik import OpikTraceSink, uuid7
from tests.support.opik_server import OpikServer, is_uuid7

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


# --- the Opik sink ---------------------------------------------------------------------------------


def test_opik_receives_the_trace_and_its_spans() -> None:
    sent = trace(timings_s={"self_query": 0.1, "search": 0.4, "rerank": 0.25})
    with OpikServer() as server:
        sink = OpikTraceSink(server.base_url, "llm-twin")
        sink.record(sent)
        sink.close()
    assert server.refusals == []
    [body] = server.traces
    assert is_uuid7(body["id"]) and millis_of(UUID(body["id"])) == int(T0.timestamp() * 1000)
    assert body["id"] == str(uuid7(T0, seed=sent.id))  # re-sending the same trace keeps its Opik id
    assert body["project_name"] == "llm-twin"
    assert body["name"] == "rag"
    assert (body["start_time"], body["end_time"]) == (
        "2025-05-04T12:30:15.250000Z",
        "2025-05-04T12:30:17.250000Z",
    )
    assert body["input"] == {"query": sent.query}
    assert body["output"] == {"answer": sent.answer}
    assert body["ttft"] == pytest.approx(350.0)
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
    assert metadata["usage"] == {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876}
    assert metadata["timings_s"] == sent.timings_s
    spans = server.spans
    assert [(span["name"], span["type"]) for span in spans] == [
        ("self_query", "general"),
        ("search", "general"),
        ("rerank", "general"),
        ("generation", "llm"),
    ]
    assert all(span["trace_id"] == body["id"] and is_uuid7(span["id"]) for span in spans)
    assert [span["start_time"] for span in spans[1:]] == [span["end_time"] for span in spans[:-1]]
    assert spans[-1]["end_time"] == body["end_time"]
    assert spans[-1]["model"] == "twin-llama-3.1-8b"
    assert spans[-1]["usage"] == {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876}


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
        OpikTraceSink(server.base_url, "llm-twin").record(trace(**changes))
    assert server.refusals == []
    assert [span["name"] for span in server.spans] == span_names
    assert [span["type"] for span in server.spans].count("llm") == (1 if span_names else 0)
    assert server.traces[0].get("error_info") == error_info


@pytest.mark.parametrize(
    ("api_key", "workspace", "expected"),
    [
        (None, None, {}),
        ("key-123", None, {"authorization": "key-123"}),
        ("key-123", "twin-team", {"authorization": "key-123", "comet-workspace": "twin-team"}),
    ],
)
def test_opik_headers_carry_key_and_workspace_only_when_set(
    api_key: str | None, workspace: str | None, expected: dict[str, str]
) -> None:
    with OpikServer(api_key=api_key, workspace=workspace) as server:
        OpikTraceSink(server.base_url, "p", SecretStr(api_key) if api_key else None, workspace).record(
            trace()
        )
    for headers in server.headers:
        lowered = {name.lower(): value for name, value in headers.items()}
        sent = {name: lowered[name] for name in ("authorization", "comet-workspace") if name in lowered}
        assert sent == expected


@pytest.mark.parametrize(
    ("server_args", "status", "sink_key", "sink_workspace", "path", "hint"),
    [
        ({}, 500, None, None, "/api", "the warehouse still has the trace"),
        ({"api_key": "right"}, None, "wrong", None, "/api", "OPIK_API_KEY"),
        ({"workspace": "team"}, None, None, "other", "/api", "OPIK_WORKSPACE"),
        ({}, None, None, None, "", "OPIK_URL"),  # base URL missing its /api
    ],
)
def test_opik_refusals_raise_with_status_and_hint(
    server_args: dict[str, str],
    status: int | None,
    sink_key: str | None,
    sink_workspace: str | None,
    path: str,
    hint: str,
) -> None:
    with OpikServer(**server_args) as server:
        server.status = status
        base = server.base_url.removesuffix("/api") + path
        sink = OpikTraceSink(base, "p", SecretStr(sink_key) if sink_key else None, sink_workspace)
        with pytest.raises(TwinError, match=hint) as raised:
            sink.record(trace())
    assert str(status or "") in str(raised.value)
    assert server.traces == []


def test_opik_that_is_slow_or_away_raises_twin_error() -> None:
    with OpikServer() as server:
        server.delay_s = 1.0
        with pytest.raises(TwinError, match=r"did not answer within 0\.2 s"):
            OpikTraceSink(server.base_url, "p", timeout_s=0.2).record(trace())
    with pytest.raises(TwinError, match="could not be reached"):
        OpikTraceSink(f"http://127.0.0.1:{closed_local_port()}/api", "p").record(trace())


@pytest.mark.parametrize(
    ("path", "item", "refusal"),
    [
        (
            "traces",
            {"start_time": "2025-05-04T12:30:15Z", "usage": {"prompt_tokens": 1}},
            "unrecognized field",
        ),
        (
            "traces",
            {"id": "5b7f4a2e-5f0e-4a47-9d1c-1f1e8a1b2c3d", "start_time": "2025-05-04T12:30:15Z"},
            "UUID v7",
        ),
        ("traces", {"name": "no start"}, "start_time is required"),
        ("spans", {"start_time": "2025-05-04T12:30:15Z", "type": "retriever"}, "type"),
    ],
)
def test_the_stand_in_refuses_what_opik_refuses(path: str, item: dict[str, Any], refusal: str) -> None:
    """The sink tests above rely on these checks; a 400 here is what a real Opik would answer."""
    with OpikServer() as server:
        response = httpx.post(f"{server.base_url}/v1/private/{path}/batch", json={path: [item]})
    assert response.status_code == 400
    assert refusal in " ".join(response.json()["errors"])


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
    sent = trace()
    with OpikServer() as server:
        server.status = 500
        sink = FanOutSink([monitoring, OpikTraceSink(server.base_url, "p")])
        with pytest.raises(TraceDeliveryError, match="OpikTraceSink") as raised:
            sink.record(sent)
    assert [name for name, _ in raised.value.failures] == ["OpikTraceSink"]
    assert monitoring.get_trace(sent.id) == sent


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
