"""Following the registry without a restart: a newly promoted version loads on the reloader's thread while the
served one keeps answering, answers one warm-up question, then takes new requests in one swap. Requests
admitted before it finish on the version they started with, whose batcher closes after the last of them."""

import threading
import time
from typing import Any

from loguru import logger

from llm_engineering.domain.generation import ChatMessage
from llm_engineering.infrastructure.api.service import ModelSource, TwinService, served_version

WARM_UP = [ChatMessage(role="user", content="Hello, who are you?")]
WARM_UP_TOKENS = 4
STOP_WAIT_S = 5.0  # a load still running then is dropped when it ends (the swap refuses a stopped service)


class Reloader:
    """Looks at the registry's production version every `source.interval_s` on its own thread and swaps in
    the version when it is not the served one: a promotion, or a rollback. A pinned model is never swapped;
    a failed look or load is logged and counted, the served version keeps answering, and the next look
    tries again."""

    def __init__(self, service: TwinService, source: ModelSource | None, reloads: Any) -> None:
        self.service, self.source, self.reloads = service, source, reloads
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.source is None or self.source.interval_s <= 0:
            return
        if self.source.pinned:
            logger.info(
                "SERVICE_MODEL_DIR pins the served model: promotions in the registry are not followed."
            )
            return
        self._thread = threading.Thread(
            target=self._run, args=(self.source.interval_s,), name="model-reloader", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_S)

    def check(self) -> bool:
        """Swap in the registry's production version if another one answers; True when it swapped."""
        try:
            return self._follow()
        except Exception:  # the reloader's boundary: whatever a load raises, the served version stays
            self.reloads.labels("failed").inc()
            logger.exception(
                "Could not follow the registry's production version; {} keeps answering.",
                self.service.model_name,
            )
            return False

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.check()

    def _follow(self) -> bool:
        source = self.source
        if source is None or source.pinned:
            return False
        production = source.registry.production()
        if production is None or str(production.number) == self.service.model_version:
            return False
        logger.info("Version {} is in production; loading it.", production.number)
        started = time.perf_counter()
        chosen, model = source.load()
        batcher = self.service.batched(model)
        try:
            served = self.service.serving(batcher, source.retriever(batcher), served_version(chosen))
            config = self.service.parts.config.generation.model_copy(
                update={"max_new_tokens": WARM_UP_TOKENS}
            )
            batcher.generate([WARM_UP], config)  # loads what a backend loads lazily, before users wait on it
        except BaseException:
            batcher.close()
            raise
        if self._stop.is_set():
            batcher.close()
            return False
        self.service.swap(served)
        self.reloads.labels("loaded").inc()
        logger.info(
            "{} answers now (loaded and warmed in {:.1f} s).", served.name, time.perf_counter() - started
        )
        return True
