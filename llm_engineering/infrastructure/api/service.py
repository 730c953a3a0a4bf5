"""The service's side of answering: its parts, the one queue in front of the model, admission of requests,
and the trace sink that also feeds the metrics. The answer itself is `application.twin.Twin`'s."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from llm_engineering.application import answering
from llm_engineering.application.ports import ChatModel, FeedbackStore, ModelRegistry, TraceSink
from llm_engineering.application.retrieval import Retriever
from llm_engineering.application.serving import ServedModel
from llm_engineering.application.twin import AnswerEvent, Ask, Finished, Retrieved, Twin
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import Trace
from llm_engineering.infrastructure.api.batching import DynamicBatcher, ServiceBusyError
from llm_engineering.infrastructure.api.prometheus import ServiceMetrics
from llm_engineering.infrastructure.monitoring.fan_out import FanOutSink, TraceDeliveryError

SERVED_NAME = "llm-twin"


@dataclass(frozen=True)
class ModelSource:
    """Where the served model comes from, so that the service can follow the registry's production stage
    (`api.reloading`); the composition root wires the real ones, tests pass fakes."""

    registry: ModelRegistry
    load: Callable[[], tuple[ServedModel, ChatModel]]
    """The serving policy's choice now and its model, loaded (minutes, while the served one answers)."""
    retriever: Callable[[ChatModel], Retriever]
    """The service's retriever with query expansion by the given model (a new version's batcher)."""
    pinned: bool = False
    """SERVICE_MODEL_DIR names the model, whatever the registry holds: it is never swapped."""
    interval_s: float = 30.0
    """Seconds between two looks at the registry's production version; 0 never looks."""


@dataclass
class TwinParts:
    """What the service is built from; the lifespan makes it once (tests pass fakes).

    Every call to `model` goes through one DynamicBatcher with the limits below (`max_batch`, `max_wait_s`,
    `max_queue`): `model` itself when it is one, as the composition root makes it so that the retriever's
    query expansion waits in the same queue, or else one the service wraps around it. At most `max_queue`
    requests are answered at once, from their retrieval to their last token; one more gets a 503. With a
    `source`, the service follows the registry and swaps in each newly promoted version.
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
    source: ModelSource | None = None


def served_version(served: ServedModel) -> str | None:
    """The registry version a serving choice answers as (None for a pinned folder or the LLM_BACKEND)."""
    return str(served.version.number) if served.version else None


@dataclass
class Answered:
    """A whole answer: the retrieval it came from and its finished trace."""

    retrieved: Retrieved
    finished: Finished


@dataclass(eq=False)
class Served:
    """What a request answers with, replaced whole when another version takes over; a request keeps the one
    it was admitted on until it ends, and a replaced one's batcher closes after its last request."""

    version: str | None
    batcher: DynamicBatcher
    twin: Twin
    requests: int = 0
    replaced: bool = False

    @property
    def name(self) -> str:
        return SERVED_NAME + (f"-v{self.version}" if self.version else "")


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
    """The twin behind the service's queue: admits at most `max_queue` requests and answers them with the
    version `served` now, which `swap` replaces."""

    def __init__(self, parts: TwinParts, metrics: ServiceMetrics) -> None:
        self.parts, self.metrics = parts, metrics
        sinks = FanOutSink([parts.monitoring, *parts.extra_sinks])  # the warehouse first
        self.sink = MeteredSink(sinks, metrics)
        self.served = self.serving(self.batched(parts.model), parts.retriever, parts.model_version)
        self._in_flight, self._closed, self._lock = 0, False, threading.Lock()
        metrics.queue.set_function(lambda: self.served.batcher.waiting)  # read at each scrape, never stale
        metrics.in_flight.set_function(lambda: self._in_flight)

    @property
    def model_version(self) -> str | None:
        return self.served.version

    @property
    def model_name(self) -> str:
        """The served version's name (`llm-twin-v9`), as /v1/models lists it."""
        return self.served.name

    def batched(self, model: ChatModel) -> DynamicBatcher:
        """`model` behind a batcher with the service's limits (itself when it already is one)."""
        if isinstance(model, DynamicBatcher):
            return model
        return DynamicBatcher(model, self.parts.max_batch, self.parts.max_wait_s, self.parts.max_queue)

    def serving(self, batcher: DynamicBatcher, retriever: Retriever, version: str | None) -> Served:
        """What requests would answer with: `batcher`'s model and `retriever`, and the service's settings."""
        p = self.parts
        twin = Twin(retriever, batcher, self.sink, p.config, version, p.max_new_tokens)
        return Served(version, batcher, twin)

    def swap(self, served: Served) -> None:
        """Answer requests admitted from now on with `served`; the replaced one closes after its last."""
        with self._lock:
            if self._closed:  # the service stopped while `served` loaded
                replaced = served
            else:
                replaced, self.served = self.served, served
            replaced.replaced = True
            idle = replaced.requests == 0
        if idle:
            replaced.batcher.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.served.batcher.close()

    def events(self, ask: Ask) -> Iterator[AnswerEvent]:
        """The answer's events; the first `next` admits the request or raises ServiceBusyError, and the
        request holds its place, and the version it was admitted on, until the iterator ends or is closed."""
        served = self._admit()
        try:
            yield from served.twin.answer(ask)
        finally:
            self._leave(served)

    def answer(self, ask: Ask) -> Answered:
        """The whole answer at once."""
        retrieved = finished = None
        for event in self.events(ask.model_copy(update={"stream": False})):
            if isinstance(event, Retrieved):
                retrieved = event
            elif isinstance(event, Finished):
                finished = event
        if retrieved is None or finished is None:
            raise TwinError("An answer ended without its retrieval or its end; the use case must yield both.")
        return Answered(retrieved, finished)

    def _admit(self) -> Served:
        with self._lock:
            if self._in_flight >= self.parts.max_queue:
                raise ServiceBusyError(
                    f"The twin is answering {self._in_flight} requests, its most at once; "
                    "retry in a few seconds."
                )
            self._in_flight += 1
            self.served.requests += 1  # under the lock that `swap` takes: never admitted on a closed one
            return self.served

    def _leave(self, served: Served) -> None:
        with self._lock:
            self._in_flight -= 1
            served.requests -= 1
            idle = served.replaced and served.requests == 0
        if idle:  # its batcher has nothing left to answer: close() returns at once
            served.batcher.close()
