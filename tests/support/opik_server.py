"""A stand-in on 127.0.0.1 for the Opik REST endpoints the opik SDK calls, checking what arrives strictly.

    with OpikServer(api_key="k") as server:
        sink = OpikSink(server.base_url, "llm-twin", SecretStr("k"))
        sink.record(trace)
        sink.close()
        assert server.traces[0]["project_name"] == "llm-twin"

With the base URL ending in /api, like a local Opik's, it serves the SDK's health check
`GET /api/is-alive/ping` and what traces, spans and feedback scores are written with:
`POST /api/v1/private/traces/batch`, `POST /api/v1/private/spans/batch` and
`PUT /api/v1/private/traces/feedback-scores` (answered 204, as Opik does). Bodies the SDK gzips are
unzipped. It refuses with 400 and Opik's `{"errors": [...]}` what Opik's write schemas would: a missing
required field, a field they lack, an id that is not a UUID v7, a time that is not a UTC instant. With
`api_key` or `workspace` set it answers 401 or 403 to writes without them; `status` forces the answer to
every write (500 …) and `delay_s` stalls it; the health check always answers. Every write's headers are
kept in `headers`, and every request as (method, path) in `requests`.
"""

import gzip
import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from uuid import UUID

from tests.support.http_server import ThreadedServer

PING = "/api/is-alive/ping"
TRACE_FIELDS = {
    "id", "project_name", "name", "start_time", "end_time", "input", "output", "metadata", "tags",
    "error_info", "last_updated_at", "ttft", "thread_id", "source", "environment",
}  # fmt: skip
SPAN_FIELDS = {
    "id", "project_name", "trace_id", "parent_span_id", "name", "type", "start_time", "end_time", "input",
    "output", "metadata", "model", "provider", "tags", "usage", "error_info", "last_updated_at",
    "total_estimated_cost", "total_estimated_cost_version", "ttft", "source", "environment",
}  # fmt: skip
SCORE_FIELDS = {
    "id", "project_name", "project_id", "name", "category_name", "value", "reason", "source", "author",
    "source_queue_id",
}  # fmt: skip
SPAN_TYPES = {"general", "tool", "llm", "guardrail"}
SCORE_SOURCES = {"ui", "sdk", "online_scoring"}
JSON_VALUE = (dict, list, str)
WRITES = {
    ("POST", "/api/v1/private/traces/batch"): ("traces", TRACE_FIELDS),
    ("POST", "/api/v1/private/spans/batch"): ("spans", SPAN_FIELDS),
    ("PUT", "/api/v1/private/traces/feedback-scores"): ("scores", SCORE_FIELDS),
}


def is_uuid7(value: object) -> bool:
    """Whether `value` is a canonical UUID string of version 7 and the RFC 9562 variant."""
    try:
        parsed = UUID(str(value))
    except ValueError:
        return False
    return str(parsed) == value and parsed.version == 7 and parsed.variant == "specified in RFC 4122"


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.endswith("Z"):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def item_errors(kind: str, item: dict[str, Any], allowed: set[str]) -> list[str]:
    """What Opik's validation would refuse in one trace, span or feedback score write."""
    errors = [f"{kind}: unrecognized field {name!r}" for name in sorted(set(item) - allowed)]
    for name in ("id", "trace_id", "parent_span_id"):
        if name in item and not is_uuid7(item[name]):
            errors.append(f"{kind}: {name} {item[name]!r} is not a UUID v7")
    return errors + (_score_errors(item) if kind == "scores" else _write_errors(kind, item))


def _write_errors(kind: str, item: dict[str, Any]) -> list[str]:
    errors = []
    start, end = _instant(item.get("start_time")), _instant(item.get("end_time", item.get("start_time")))
    if start is None or end is None:
        errors.append(f"{kind}: start_time is required and times must be ISO 8601 instants in UTC (Z)")
    elif end < start:
        errors.append(f"{kind}: end_time is before start_time")
    for name in ("input", "output", "metadata"):
        if name in item and not isinstance(item[name], JSON_VALUE):
            errors.append(f"{kind}: {name} must be an object, a list or a string")
    if not all(isinstance(tag, str) for tag in item.get("tags", [])):
        errors.append(f"{kind}: tags must be strings")
    if "type" in item and item["type"] not in SPAN_TYPES:
        errors.append(f"{kind}: type {item['type']!r} is not one of {sorted(SPAN_TYPES)}")
    if not all(isinstance(count, int) for count in item.get("usage", {}).values()):
        errors.append(f"{kind}: usage values must be integers")
    return errors


def _score_errors(item: dict[str, Any]) -> list[str]:
    errors = [f"scores: {name} is required" for name in ("id", "name", "value", "source") if name not in item]
    if not isinstance(item.get("value", 0), int | float) or isinstance(item.get("value"), bool):
        errors.append("scores: value must be a number")
    if item.get("source", "sdk") not in SCORE_SOURCES:
        errors.append(f"scores: source {item['source']!r} is not one of {sorted(SCORE_SOURCES)}")
    return errors


class OpikServer(ThreadedServer):
    """A threaded stand-in for Opik's ingestion endpoints on a free port; use it as a context manager."""

    def __init__(self, api_key: str | None = None, workspace: str | None = None) -> None:
        self.api_key = api_key
        self.workspace = workspace
        self.status: int | None = None  # force this answer to every write instead of validating it
        self.delay_s = 0.0
        self.traces: list[dict[str, Any]] = []
        self.spans: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.refusals: list[list[str]] = []  # the errors of each write answered 400
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api"

    def answer(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        """Validate one request like Opik and keep what it accepted; returns (status, JSON body)."""
        with self._lock:
            self.requests.append((method, path))
        if (method, path) == ("GET", PING):
            return 200, {"healthy": True}
        if (method, path) not in WRITES:
            return 404, {"errors": [f"no route {method} {path}"]}
        with self._lock:
            self.headers.append(headers)
        lowered = {name.lower(): value for name, value in headers.items()}
        if not lowered.get("content-type", "").startswith("application/json"):
            return 415, {"errors": ["send application/json"]}
        if self.status is not None:
            return self.status, {"errors": [f"scripted {self.status}"]}
        if self.api_key and lowered.get("authorization") != self.api_key:
            return 401, {"errors": ["API key is missing or wrong"]}
        if self.workspace and lowered.get("comet-workspace") != self.workspace:
            return 403, {"errors": [f"no access to workspace {lowered.get('comet-workspace')!r}"]}
        key, allowed = WRITES[(method, path)]
        body = gzip.decompress(raw) if lowered.get("content-encoding") == "gzip" else raw
        errors, items = self._parse(body, key, allowed)
        with self._lock:
            if errors:
                self.refusals.append(errors)
            else:
                {"traces": self.traces, "spans": self.spans, "scores": self.scores}[key].extend(items)
        return (400, {"errors": errors}) if errors else (204, None)

    @staticmethod
    def _parse(raw: bytes, key: str, allowed: set[str]) -> tuple[list[str], list[dict[str, Any]]]:
        try:
            body = json.loads(raw)
        except ValueError:
            return ["body is not JSON"], []
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            return [f"{key} must be a non-empty list of objects"], []
        return [error for item in items for error in item_errors(key, item, allowed)], items


def _handler_for(server: OpikServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_PUT(self) -> None:
            self._answer()

        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = server.answer(self.command, self.path, dict(self.headers.items()), raw)
            if self.path != PING:
                time.sleep(server.delay_s)
            data = json.dumps(payload).encode() if payload is not None else b""
            try:
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up: nothing left to answer

    return Handler
