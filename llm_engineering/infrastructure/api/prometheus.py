"""Prometheus metrics of the service, in a registry of its own so that tests and apps do not collide."""

from dataclasses import dataclass, field
from typing import Any

# Seconds, sized for answers generated on a CPU: retrieval alone takes a tenth of a second, a long answer
# several minutes under load.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)


def _registry() -> Any:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


@dataclass
class ServiceMetrics:
    registry: Any = field(default_factory=_registry)

    def __post_init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        r = self.registry
        self.requests = Counter(
            "twin_requests", "Requests by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "twin_request_latency_seconds",
            "Latency by endpoint, to the last byte of a stream",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "twin_time_to_first_token_seconds",
            "Time to the first answer token",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "twin_answers",
            "Answers by endpoint and outcome (ok, blocked, error, abandoned: the client left early)",
            ["endpoint", "status"],
            registry=r,
        )
        self.in_flight = Gauge(
            "twin_requests_in_flight", "Requests admitted and not yet answered", registry=r
        )
        self.tokens = Counter("twin_tokens", "Tokens by direction", ["direction"], registry=r)
        self.guardrails = Counter(
            "twin_guardrail_verdicts", "Guardrail verdicts by name and action", ["name", "action"], registry=r
        )
        self.queue = Gauge("twin_generation_queue", "Requests waiting for or in generation", registry=r)
        self.rejected = Counter(
            "twin_rejected_busy", "Requests refused with 503 because the queue was full", registry=r
        )
        self.trace_failures = Counter(
            "twin_trace_failures", "Traces a monitoring sink failed to record", registry=r
        )
        self.feedback = Counter("twin_feedback", "Feedback by rating", ["rating"], registry=r)
        self.model_reloads = Counter(
            "twin_model_reloads",
            "Attempts to follow a new production version, by outcome (loaded, failed)",
            ["outcome"],
            registry=r,
        )

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
