"""One trace to every sink: the warehouse first, then Opik or any other, one failure never losing the rest."""

from collections.abc import Sequence

from loguru import logger

from llm_engineering.application.ports import TraceSink
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import Trace


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
