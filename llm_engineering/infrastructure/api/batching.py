"""Dynamic batching: every call to the served model, whole answers and streams alike, waits in one queue and
is answered in batches on the batcher's own threads, which never wait for a client."""

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.ports import (
    BatchStreamingChatModel,
    ChatModel,
    ChoiceScorer,
    StreamingChatModel,
)
from llm_engineering.domain.exceptions import LLMError, TwinError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig


class QueueConfig(BaseModel):
    """The one queue in front of the served model, and how often that model follows the registry (`queue:` in
    configs/inference.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_batch: int = Field(8, ge=1, description="Most requests generated together in one batch.")
    max_wait_s: float = Field(0.02, ge=0, description="How long a batch waits for more requests to join it.")
    max_queue: int = Field(
        64, ge=1, description="Most requests answered at once, retrieval to last token; one more gets a 503."
    )
    max_new_tokens: int = Field(512, ge=1, description="Most tokens a client may ask for in one answer.")
    reload_interval_s: float = Field(
        30.0,
        ge=0,
        description="Seconds between looks at the registry's production version, which the service loads and "
        "swaps in when it changes; 0 never looks (a SERVICE_MODEL_DIR model is never swapped).",
    )


PIECE_TIMEOUT_S = 300.0  # longest a stream's reader waits for its next piece, time in the queue included


class ServiceBusyError(TwinError):
    """The generation queue is full; the client should retry later (HTTP 503 with Retry-After)."""


@dataclass(eq=False)
class _Request:
    """One conversation waiting for or in generation. A stream's pieces go to `pieces` as they are made,
    then None once `future` holds the completion or the error."""

    conversation: Conversation
    config: GenerationConfig
    streaming: bool
    future: "Future[Completion]" = field(default_factory=Future)
    pieces: "queue.SimpleQueue[str | None]" = field(default_factory=queue.SimpleQueue)
    abandoned: bool = False  # its reader stopped reading; the engine may finish it, nobody waits for it


class DynamicBatcher:
    """A `ChatModel` and `StreamingChatModel` in front of one model, through which every call to it goes.

    Requests wait up to `max_wait_s` (or until `max_batch` wait); those with one generation config are then
    answered by one call on the worker thread: `generate_streaming` when the model streams batches (streams
    and whole answers together), otherwise `generate` for whole answers while each stream's `model.stream`
    is read to its end on a pool thread. A stream's reader only reads its own queue of pieces, so a client
    that pauses or leaves never holds the model. At most `max_queue` requests wait or run (streams until they
    end); one more raises ServiceBusyError instead of queueing without bound.
    """

    def __init__(self, model: ChatModel, max_batch: int = 8, max_wait_s: float = 0.02, max_queue: int = 64):
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be at least 1 and max_wait_s not negative.")
        self.model, self.model_id = model, model.model_id
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self.piece_timeout_s = PIECE_TIMEOUT_S
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # of the latest batches, for tests and benchmarks
        if isinstance(model, ChoiceScorer):
            # Delegated, not queued: scoring is one forward step with nothing to stream or to batch with
            # generation, asked by evaluations rather than users. A backend that locks its model orders it
            # with the batcher's calls, which never wait for a client, so it cannot deadlock.
            self.choice_probabilities = model.choice_probabilities
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._waiting, self._closed = 0, False
        self._lock = threading.Lock()
        self._streams = ThreadPoolExecutor(max_batch, thread_name_prefix="batcher-stream")
        self._worker = threading.Thread(target=self._run, name="dynamic-batcher", daemon=True)
        self._worker.start()

    @property
    def waiting(self) -> int:
        """Requests queued or being generated."""
        return self._waiting

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        """Queue every conversation (all, or none and ServiceBusyError) and wait for their completions."""
        return [request.future.result() for request in self._enqueue(conversations, config, streaming=False)]

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        """Queue the conversation now (ServiceBusyError when full); the generator yields its pieces as the
        engine makes them and returns the Completion. Closing it early abandons the request."""
        [request] = self._enqueue([conversation], config, streaming=True)
        return self._read(request)

    def submit(self, conversation: Conversation, config: GenerationConfig) -> "Future[Completion]":
        """Queue one conversation; the future holds its completion or the error of its batch."""
        [request] = self._enqueue([conversation], config, streaming=False)
        return request.future

    def close(self) -> None:
        """Stop the worker after the requests already queued; later requests are refused."""
        with self._lock:
            self._closed = True
            self._queue.put(None)
        self._worker.join(timeout=30)
        if not self._worker.is_alive():  # a worker still answering may yet hand streams to the pool
            self._streams.shutdown(wait=False)

    def _enqueue(
        self, conversations: Sequence[Conversation], config: GenerationConfig, streaming: bool
    ) -> list[_Request]:
        requests = [_Request(conversation, config, streaming) for conversation in conversations]
        with self._lock:  # puts under the lock too, so that none lands behind close()'s end marker
            if self._closed:
                raise ServiceBusyError("The twin is shutting down; retry in a few seconds.")
            if self._waiting + len(requests) > self.max_queue:
                raise ServiceBusyError(
                    f"The twin is answering {self._waiting} requests of its {self.max_queue} at most; "
                    "retry in a few seconds."
                )
            self._waiting += len(requests)
            for request in requests:
                self._queue.put(request)
        return requests

    def _read(self, request: _Request) -> Generator[str, None, Completion]:
        ended = False
        try:
            while True:
                try:
                    piece = request.pieces.get(timeout=self.piece_timeout_s)
                except queue.Empty:
                    raise LLMError(
                        f"{self.model_id} produced nothing for {self.piece_timeout_s:.0f} s; "
                        "the engine is stuck or overloaded."
                    ) from None
                if piece is None:
                    ended = True
                    return request.future.result()  # the engine's error, if it failed, is raised here
                yield piece
        finally:
            request.abandoned = not ended

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first, *self._gather(time.monotonic() + self.max_wait_s)]
            stop = batch[-1] is None
            self._answer([r for r in batch if r is not None])
            if stop:
                return

    def _gather(self, deadline: float) -> list[_Request | None]:
        gathered: list[_Request | None] = []
        while len(gathered) + 1 < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            gathered.append(item)
            if item is None:
                break
        return gathered

    def _answer(self, batch: Sequence[_Request]) -> None:
        groups: dict[str, list[_Request]] = {}
        for request in batch:
            groups.setdefault(request.config.model_dump_json(), []).append(request)
        for group in groups.values():
            self.batch_sizes.append(len(group))
            self._serve(group)

    def _serve(self, group: list[_Request]) -> None:
        """Answer requests with one generation config: in one call, streams included, when the model
        streams batches; otherwise whole answers in one call while each stream is read on a pool thread."""
        model, config = self.model, group[0].config
        if isinstance(model, BatchStreamingChatModel):

            def emit(index: int, piece: str) -> None:
                _push(group[index], piece)

            self._settle(group, lambda: model.generate_streaming(_conversations(group), config, emit))
            return
        streams: list[_Request] = []
        drained: list[Future[None]] = []
        if isinstance(model, StreamingChatModel):
            streams = [r for r in group if r.streaming]
            drained = [self._streams.submit(self._drain, model, r) for r in streams]
        if whole := [r for r in group if r not in streams]:
            self._settle(whole, lambda: model.generate(_conversations(whole), config), streamed=False)
        wait(drained)

    def _settle(
        self, requests: list[_Request], call: Callable[[], list[Completion]], streamed: bool = True
    ) -> None:
        """Run one batched call and hand each request its completion (a stream that was not streamed gets it
        as one piece), or each the call's error."""
        try:
            completions = call()
        except Exception as error:  # handed to every caller of this batch, who re-raise it
            logger.exception("A batch of {} failed", len(requests))
            for request in requests:
                self._finish(request, error)
            return
        for request, completion in zip(requests, completions, strict=True):
            if not streamed:
                _push(request, completion.text)
            self._finish(request, completion)

    def _drain(self, model: StreamingChatModel, request: _Request) -> None:
        """Read the model's stream to its end, or until its reader leaves, into the request's queue."""
        pieces = model.stream(request.conversation, request.config)
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as end:
                    self._finish(request, end.value)
                    return
                if request.abandoned:
                    pieces.close()
                    self._finish(request, LLMError("The stream's reader left before its end."))
                    return
                _push(request, piece)
        except Exception as error:  # raised again in the stream's reader
            logger.exception("A stream of {} failed", self.model_id)
            self._finish(request, error)

    def _finish(self, request: _Request, outcome: Completion | Exception) -> None:
        if isinstance(outcome, Exception):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)
        request.pieces.put(None)  # after the future: a reader that gets None finds the outcome there
        with self._lock:
            self._waiting -= 1


def _conversations(requests: Sequence[_Request]) -> list[Conversation]:
    return [request.conversation for request in requests]


def _push(request: _Request, piece: str) -> None:
    """Hand a piece to a stream's reader; whole answers and abandoned streams have none."""
    if request.streaming and not request.abandoned:
        request.pieces.put(piece)
