"""The service's side of answering: its parts, the one queue in front of the model, admission of requests,
and the trace sink that also feeds the metrics. The answer itself is `application.twin.Twin`'s."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from llm_engineering.application import answering
from llm_engineering.application.ports import ChatModel, FeedbackStore, TraceSink
from llm_engineering.application.retrieval import Retriever
from llm_engineering.application.twin import AnswerEvent, Ask, Finished, Retrieved, Twin
from llm_engineering.domain.inference import Trace
from llm_engineering.infrastructure.api.batching import DynamicBatcher, ServiceBusyError
from llm_engineering.infrastructure.api.prometheus import ServiceMetrics
from llm_engineering.infrastructure.monitoring.fan_out import FanOutSink, TraceDeliveryError

SERVED_NAME = "llm-twin"


@dataclass
class TwinParts:
    """What the service is built from; the lifespan makes it once (tests pass fakes).

    Every call to `model` goes through one DynamicBatcher with the limits below (`max_batch`, `max_wait_s`,
    `max_queue`): `model` itself when it is one, as the composition root makes it so that the retriever's
    query expansion waits in the same queue, or else one the service wraps around it. At most `max_queue`
    requests are answered at once, from their retrieval to their last token; one more gets a 503.
    """

    retriever: Retriever
    model: ChatModel
    monitoring: FeedbackStore
    config: answering.AnswerConfig = field(default_factory=answering.AnswerConfig)
    model_version: str | None = None
    extra_sinks: list[TraceSink] = field(default_factory=list)
    ready_checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    max_batch: int = 8
    max_wait_s: float = 0.02
    max_queue: int = 64
    max_new_tokens: int = 512


@dataclass
class Answered:
    """A whole answer: the retrieval it came from and its finished trace."""

    retrieved: Retrieved
    finished: Finished


class MeteredSink:
    """Counts each trace in the metrics, then records it in the warehouse and the other sinks; a failing
    sink is counted and logged, never allowed to take the answer away from the user."""

    def __init__(self, sinks: FanOutSink, metrics: ServiceMetrics) -> None:
        self.sinks, self.metrics = sinks, metrics

    def record(self, trace: Trace) -> None:
        for verdict in trace.guardrails:
            self.metrics.guardrails.labels(verdict.name, verdict.action).inc()
        self.metrics.tokens.labels("in").inc(trace.prompt_tokens)
        self.metrics.tokens.labels("out").inc(trace.completion_tokens)
        self.metrics.answers.labels(trace.endpoint, trace.status).inc()
        if trace.time_to_first_token_s is not None:
            self.metrics.ttft.observe(trace.time_to_first_token_s)
        try:
            self.sinks.record(trace)  # logs each failing sink
        except TraceDeliveryError as error:
            self.metrics.trace_failures.inc(len(error.failures))


class TwinService:
    """The twin behind the service's queue: admits at most `max_queue` requests and answers them."""

    def __init__(self, parts: TwinParts, metrics: ServiceMetrics) -> None:
        self.parts, self.metrics = parts, metrics
        self.batcher = (
            parts.model
            if isinstance(parts.model, DynamicBatcher)
            else DynamicBatcher(parts.model, parts.max_batch, parts.max_wait_s, parts.max_queue)
        )
        sink = MeteredSink(FanOutSink([parts.monitoring, *parts.extra_sinks]), metrics)  # the warehouse first
        self.twin = Twin(
            parts.retriever, self.batcher, sink, parts.config, parts.model_version, parts.max_new_tokens
        )
        self.model_name = SERVED_NAME + (f"-v{parts.model_version}" if parts.model_version else "")
        self._in_flight, self._lock = 0, threading.Lock()
        metrics.queue.set_function(lambda: self.batcher.waiting)  # read at each scrape, never stale
        metrics.in_flight.set_function(lambda: self._in_flight)

    def close(self) -> None:
        self.batcher.close()

    def events(self, ask: Ask) -> Iterator[AnswerEvent]:
        """The answer's events; the first `next` admits the request or raises ServiceBusyError, and the
        request holds its place until the iterator ends or is closed."""
        self._admit()
        try:
            yield from self.twin.answer(ask)
        finally:
            with self._lock:
                self._in_flight -= 1

    def answer(self, ask: Ask) -> Answered:
        """The whole answer at once."""
        retrieved = finished = None
        for event in self.events(ask.model_copy(update={"stream": False})):
            if isinstance(event, Retrieved):
                retrieved = event
            elif isinstance(event, Finished):
                finished = event
        assert retrieved is not None and finished is not None  # Twin.answer always yields both
        return Answered(retrieved, finished)

    def _admit(self) -> None:
        with self._lock:
            if self._in_flight >= self.parts.max_queue:
                raise ServiceBusyError(
                    f"The twin is answering {self._in_flight} requests, its most at once; "
                    "retry in a few seconds."
                )
            self._in_flight += 1
