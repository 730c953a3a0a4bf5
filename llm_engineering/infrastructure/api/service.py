"""One request to the twin from question to traced answer, shared by the JSON, SSE and OpenAI endpoints."""

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from llm_engineering.application import answering
from llm_engineering.application.ports import ChatModel, FeedbackStore, TraceSink
from llm_engineering.application.retrieval import Retriever
from llm_engineering.domain.generation import Completion, GenerationConfig
from llm_engineering.domain.inference import Trace
from llm_engineering.infrastructure.api.batching import DynamicBatcher
from llm_engineering.infrastructure.api.prometheus import ServiceMetrics
from llm_engineering.infrastructure.monitoring.fan_out import FanOutSink, TraceDeliveryError


@dataclass
class TwinParts:
    """What the service is built from; the lifespan makes it once (tests pass fakes).

    Every call to `model` goes through one DynamicBatcher with the limits below (`max_batch`, `max_wait_s`,
    `max_queue`): `model` itself when it is one, as the composition root makes it so that the retriever's
    query expansion waits in the same queue, or else one the service wraps around it.
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
    """A finished request: what was prepared for the model, and the trace with the answer and verdicts."""

    prepared: answering.PreparedAnswer
    trace: Trace


class TwinService:
    """Answers questions: guard, retrieve, generate (batched, or streamed), review, trace."""

    def __init__(self, parts: TwinParts, metrics: ServiceMetrics) -> None:
        self.parts, self.metrics = parts, metrics
        self.sinks = FanOutSink([parts.monitoring, *parts.extra_sinks])  # the warehouse first
        self.batcher = (
            parts.model
            if isinstance(parts.model, DynamicBatcher)
            else DynamicBatcher(parts.model, parts.max_batch, parts.max_wait_s, parts.max_queue)
        )
        metrics.queue.set_function(lambda: self.batcher.waiting)  # read at each scrape, never stale

    def close(self) -> None:
        self.batcher.close()

    def generation(self, max_tokens: int | None) -> GenerationConfig:
        config = self.parts.config.generation
        wanted = min(max_tokens or config.max_new_tokens, self.parts.max_new_tokens)
        return config.model_copy(update={"max_new_tokens": wanted})

    def prepare(self, question: str, trace: Trace) -> answering.PreparedAnswer:
        started = time.perf_counter()
        prepared = answering.prepare(question, self.parts.retriever, self.parts.config)
        trace.query = prepared.question
        trace.guardrails = list(prepared.verdicts)
        if prepared.retrieval is not None:
            trace.retrieved_chunk_ids = [s.chunk_id for s in prepared.sources]
            trace.timings_s.update(prepared.retrieval.timings_s)
        trace.timings_s["prepare"] = time.perf_counter() - started
        return prepared

    def answer(self, question: str, max_tokens: int | None, endpoint: str) -> Answered:
        """The whole answer at once, generated in a batch with whatever else is waiting."""
        trace = self.new_trace(endpoint)
        started = time.perf_counter()
        prepared = self.prepare(question, trace)
        if prepared.refusal is not None:
            return self.refused(prepared, trace, started)
        [completion] = self.batcher.generate([prepared.conversation], self.generation(max_tokens))
        trace.time_to_first_token_s = time.perf_counter() - started  # a batched answer arrives whole
        return self.finish(prepared, completion, trace, started)

    def stream(
        self, prepared: answering.PreparedAnswer, trace: Trace, started: float, max_tokens: int | None
    ) -> Generator[str, None, Completion]:
        """Answer pieces as generated (whole when the backend cannot stream), then the Completion with the
        backend's token counts; `finish` closes the answer with it. The batcher generates it, batched with
        whatever else waits: reading slowly, or not to the end, never holds the model."""
        pieces = self.batcher.stream(prepared.conversation, self.generation(max_tokens))
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as end:
                    return end.value  # type: ignore[no-any-return]
                if trace.time_to_first_token_s is None:
                    trace.time_to_first_token_s = time.perf_counter() - started
                yield piece
        finally:
            pieces.close()  # a client gone mid-answer abandons its request

    def finish(
        self, prepared: answering.PreparedAnswer, completion: Completion, trace: Trace, started: float
    ) -> Answered:
        reviewed = answering.review(completion.text, self.parts.config)
        trace.answer = reviewed.text
        trace.status = "blocked" if reviewed.blocked else "ok"
        trace.guardrails += reviewed.verdicts
        trace.prompt_tokens, trace.completion_tokens = completion.prompt_tokens, completion.completion_tokens
        trace.total_latency_s = time.perf_counter() - started
        self.record(trace)
        return Answered(prepared, trace)

    def refused(self, prepared: answering.PreparedAnswer, trace: Trace, started: float) -> Answered:
        trace.status, trace.answer = "blocked", prepared.refusal or ""
        trace.total_latency_s = time.perf_counter() - started
        self.record(trace)
        return Answered(prepared, trace)

    def new_trace(self, endpoint: str) -> Trace:
        return Trace(
            endpoint=endpoint,
            query="",
            model_id=self.parts.model.model_id,
            model_version=self.parts.model_version,
        )

    def record(self, trace: Trace) -> None:
        """Keep the trace in the warehouse, then in the other sinks; a failing sink is counted and logged,
        never allowed to take the answer away from the user."""
        for verdict in trace.guardrails:
            self.metrics.guardrails.labels(verdict.name, verdict.action).inc()
        self.metrics.tokens.labels("in").inc(trace.prompt_tokens)
        self.metrics.tokens.labels("out").inc(trace.completion_tokens)
        if trace.time_to_first_token_s is not None:
            self.metrics.ttft.observe(trace.time_to_first_token_s)
        try:
            self.sinks.record(trace)  # logs each failing sink
        except TraceDeliveryError as error:
            self.metrics.trace_failures.inc(len(error.failures))
