"""One trace to every sink: the warehouse first, then Opik or any other, one failure never losing the rest;
and each verdict the warehouse accepts passed on to the sinks that take feedback (Opik)."""

from collections.abc import Iterator, Sequence
from typing import Protocol

from loguru import logger

from llm_engineering.application.ports import FeedbackStore, TraceSink
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import Feedback, Trace


class TraceDeliveryError(TwinError):
    """One or more sinks failed to record a trace; `failures` says which and why."""

    def __init__(self, failures: list[tuple[str, TwinError]]) -> None:
        self.failures = failures
        listed = "; ".join(f"{name}: {error}" for name, error in failures)
        super().__init__(f"{len(failures)} trace sink(s) failed: {listed}")


class FanOutSink:
    """Records each trace to every sink, in order, so one sink failing never loses the others' record.

    The first sink is the primary (the warehouse). A sink raising `TwinError` is logged and the next
    one still runs; after all were tried, one `TraceDeliveryError` lists every failure, so the service
    can count it and keep answering. Errors that are not `TwinError` are bugs and propagate at once.
    """

    def __init__(self, sinks: Sequence[TraceSink]) -> None:
        if not sinks:
            raise TwinError("FanOutSink needs at least one sink; pass the warehouse monitoring first.")
        self.sinks = list(sinks)

    def record(self, trace: Trace) -> None:
        failures: list[tuple[str, TwinError]] = []
        for sink in self.sinks:
            try:
                sink.record(trace)
            except TwinError as error:
                logger.warning("Trace {} not recorded by {}: {}", trace.id, type(sink).__name__, error)
                failures.append((type(sink).__name__, error))
        if failures:
            raise TraceDeliveryError(failures)


class FeedbackSink(Protocol):
    """Where a verdict goes besides the warehouse, with the trace of the answer it rates."""

    def record_feedback(self, feedback: Feedback, trace: Trace) -> None: ...


class FeedbackFanOut:
    """The warehouse's traces and feedback (a `FeedbackStore`), each verdict it keeps also handed to `sinks`.

    The warehouse decides: a verdict it refuses (an unknown answer, the warehouse down) reaches no sink.
    A feedback sink only queues and leaves its backend's failures to its trace reports (Opik's come with the
    next trace), so a verdict the warehouse kept is answered as kept.
    """

    def __init__(self, store: FeedbackStore, sinks: Sequence[FeedbackSink]) -> None:
        self.store = store
        self.sinks = list(sinks)

    def record(self, trace: Trace) -> None:
        self.store.record(trace)

    def get_trace(self, trace_id: str) -> Trace | None:
        return self.store.get_trace(trace_id)

    def iter_feedback(self) -> Iterator[Feedback]:
        return self.store.iter_feedback()

    def add_feedback(self, feedback: Feedback) -> None:
        self.store.add_feedback(feedback)
        if not self.sinks:
            return
        trace = self.store.get_trace(feedback.answer_id)
        if trace is None:  # deleted since the warehouse accepted the verdict: nothing left to rate
            logger.warning(
                "Feedback {} rates answer {}, deleted since; not passed on", feedback.id, feedback.answer_id
            )
            return
        for sink in self.sinks:
            sink.record_feedback(feedback, trace)
