"""Dynamic batching: concurrent requests for one local model are answered together in one batched call."""

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from loguru import logger

from llm_engineering.application.ports import ChatModel
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig


class ServiceBusyError(TwinError):
    """The generation queue is full; the client should retry later (HTTP 503 with Retry-After)."""


@dataclass
class _Pending:
    conversation: Conversation
    config: GenerationConfig
    future: "Future[Completion]" = field(default_factory=Future)


class DynamicBatcher:
    """Collects requests for up to `max_wait_s` (or until `max_batch` are waiting) and answers them with
    one `generate` call per generation config, on one worker thread, off the event loop.

    At most `max_queue` requests wait; one more raises ServiceBusyError instead of queueing without bound.
    """

    def __init__(self, model: ChatModel, max_batch: int = 8, max_wait_s: float = 0.02, max_queue: int = 64):
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be at least 1 and max_wait_s not negative.")
        self.model = model
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._waiting = 0
        self._lock = threading.Lock()
        self.batch_sizes: list[int] = []
        self._worker = threading.Thread(target=self._run, name="dynamic-batcher", daemon=True)
        self._worker.start()

    @property
    def waiting(self) -> int:
        """Requests queued or being generated."""
        return self._waiting

    def submit(self, conversation: Conversation, config: GenerationConfig) -> "Future[Completion]":
        """Queue one conversation; the future holds its completion or the error of its batch."""
        with self._lock:
            if self._waiting >= self.max_queue:
                raise ServiceBusyError(
                    f"The twin is answering {self._waiting} requests, its most; retry in a few seconds."
                )
            self._waiting += 1
        pending = _Pending(conversation, config)
        self._queue.put(pending)
        return pending.future

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        self._queue.put(None)
        self._worker.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first, *self._gather(time.monotonic() + self.max_wait_s)]
            stop = batch[-1] is None
            self._answer([p for p in batch if p is not None])
            if stop:
                return

    def _gather(self, deadline: float) -> list[_Pending | None]:
        gathered: list[_Pending | None] = []
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

    def _answer(self, batch: Sequence[_Pending]) -> None:
        groups: dict[str, list[_Pending]] = {}
        for pending in batch:
            groups.setdefault(pending.config.model_dump_json(), []).append(pending)
        for group in groups.values():
            self.batch_sizes.append(len(group))
            try:
                completions = self.model.generate([p.conversation for p in group], group[0].config)
            except Exception as error:  # handed to every caller of this batch, who re-raise it
                logger.exception("A batch of {} failed", len(group))
                for pending in group:
                    pending.future.set_exception(error)
            else:
                for pending, completion in zip(group, completions, strict=True):
                    pending.future.set_result(completion)
            finally:
                with self._lock:
                    self._waiting -= len(group)
