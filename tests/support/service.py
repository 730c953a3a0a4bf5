"""The inference service on a real uvicorn server on 127.0.0.1, built from fakes and an embedded warehouse."""

import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.ports import ChatModel
from llm_engineering.application.retrieval import HybridReranker, RetrievalConfig, Retriever
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.api.app import ServiceLimits, create_app
from llm_engineering.infrastructure.api.in_thread import served_in_thread
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import open_warehouse
from tests.support import rag
from tests.support.fakes import HashingEmbedder, InMemoryVectorIndex, ScriptedChatModel


def cite_first_source(user: str, attempt: int) -> str:
    """Answers with the first passage of its prompt, cited, as a well-behaved twin would."""
    match = re.search(r"\[1\] \S*\n(.+)", user)
    return f"As I wrote: {match[1]} [1]" if match else "I have not written about that."


class StreamingScriptedModel(ScriptedChatModel):
    """A scripted model that also streams its answer word by word (`pause_s` apart), then returns it."""

    pause_s = 0.0

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        [completion] = self.generate([conversation], config)
        for n, word in enumerate(completion.text.split(" ")):
            if n:
                time.sleep(self.pause_s)
            yield word if n == 0 else " " + word
        return completion


class SlowModel(ScriptedChatModel):
    """Takes `delay_s` per batch however large, as a batched local model roughly does."""

    def __init__(self, answer: Callable[[str, int], str], delay_s: float) -> None:
        super().__init__(answer)
        self.delay_s = delay_s

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        time.sleep(self.delay_s)
        return super().generate(conversations, config)


def fake_retriever(config: RetrievalConfig, expander: ChatModel | None = None) -> Retriever:
    """A retriever over the two authors' passages in memory, expanding queries with `expander`."""
    index, embedder = InMemoryVectorIndex(), HashingEmbedder()
    rag.fill(index, embedder)
    return Retriever(index, embedder, HybridReranker(), expander, rag.authors, config)


def fake_parts(data_dir: Path, model: ChatModel | None = None, **overrides: object) -> TwinParts:
    """The service's parts on fakes; `overrides` replace any of them (the retriever, config, version …)."""
    config = AnswerConfig(retrieval=RetrievalConfig(queries=1, top_k=2))
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    fields: dict[str, object] = {
        "retriever": fake_retriever(config.retrieval),
        "model": model or StreamingScriptedModel(cite_first_source),
        "monitoring": open_warehouse(settings).feedback,
        "config": config,
        "model_version": "7",
    }
    return TwinParts(**{**fields, **overrides})  # type: ignore[arg-type]


@contextmanager
def running(build: Callable[[], TwinParts], limits: ServiceLimits | None = None) -> Iterator[str]:
    """Serve the app on a free port until the block ends; yields its base URL."""
    with served_in_thread(create_app(build, limits)) as url:
        yield url


class ConversationRecorder(StreamingScriptedModel):
    """Keeps every conversation it was asked, and ends answers as `finish_reason` says."""

    finish_reason = "stop"

    def __init__(self) -> None:
        super().__init__(cite_first_source)
        self.conversations: list[Conversation] = []

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.conversations += conversations
        return [
            c.model_copy(update={"finish_reason": self.finish_reason})
            for c in super().generate(conversations, config)
        ]


class HeldModel(StreamingScriptedModel):
    """Streams only once `release` is set, so requests pile up while it holds."""

    def __init__(self) -> None:
        super().__init__(cite_first_source)
        self.release = threading.Event()

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        self.release.wait(timeout=30)
        return (yield from super().stream(conversation, config))

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.release.wait(timeout=30)
        return super().generate(conversations, config)
