"""One request to the twin, from question to traced answer, as a stream of events that the JSON, SSE and
OpenAI renderings only format: `Retrieved` (the model has the request), `Token`s, then `Finished`."""

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application import answering
from llm_engineering.application.ports import ChatModel, StreamingChatModel, TraceSink
from llm_engineering.application.redaction import StreamRedactor
from llm_engineering.application.retrieval import Retriever
from llm_engineering.domain.generation import ChatMessage, Completion, GenerationConfig
from llm_engineering.domain.inference import Trace


class Ask(BaseModel):
    """What a client asks: the question, the conversation before it, and its generation options."""

    model_config = ConfigDict(frozen=True)

    question: str = Field(min_length=1)
    history: list[ChatMessage] = Field(default_factory=list, description="Earlier turns, oldest first.")
    instructions: str | None = Field(None, description="The client's system message, if it sent one.")
    endpoint: str = "/rag"
    stream: bool = False
    max_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)


@dataclass(frozen=True)
class Retrieved:
    """Retrieval is done and the model has the request: the sources and verdicts can be shown."""

    prepared: answering.PreparedAnswer
    answer_id: str


@dataclass(frozen=True)
class Token:
    """A piece of the answer, as it is generated (a whole answer comes as one piece, after review)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The reviewed answer in its trace (answer, verdicts, usage, timings, finish reason)."""

    prepared: answering.PreparedAnswer
    trace: Trace


AnswerEvent = Retrieved | Token | Finished


class Twin:
    """Answers as the author: guard, retrieve, generate (whole or streamed), review, and keep the trace."""

    def __init__(
        self,
        retriever: Retriever,
        model: ChatModel,
        sink: TraceSink,
        config: answering.AnswerConfig,
        model_version: str | None = None,
        max_new_tokens: int = 512,
    ) -> None:
        self.retriever, self.model, self.sink, self.config = retriever, model, sink, config
        self.model_version, self.max_new_tokens = model_version, max_new_tokens

    def answer(self, ask: Ask) -> Iterator[AnswerEvent]:
        """The events of one answer. A stream is queued for the model before `Retrieved`, so a full queue
        raises before any event; closing the iterator early records the trace as abandoned."""
        trace = Trace(
            endpoint=ask.endpoint,
            query=ask.question,
            model_id=self.model.model_id,
            model_version=self.model_version,
        )
        started = time.perf_counter()
        recorded = False
        try:
            for event in self._events(ask, trace, started):
                if isinstance(event, Finished):
                    recorded = True
                    self.sink.record(trace)
                yield event
        except GeneratorExit:
            trace.status = "abandoned"
            raise
        except Exception as error:
            trace.status, trace.error = "error", f"{type(error).__name__}: {error}"
            raise
        finally:
            if not recorded:
                trace.total_latency_s = time.perf_counter() - started
                self.sink.record(trace)

    def _events(self, ask: Ask, trace: Trace, started: float) -> Iterator[AnswerEvent]:
        prepared = self._prepare(ask, trace)
        if prepared.refusal is not None:
            trace.status, trace.answer, trace.finish_reason = "blocked", prepared.refusal, "content_filter"
            trace.total_latency_s = time.perf_counter() - started
            yield Retrieved(prepared, trace.id)
            yield Token(prepared.refusal)
            yield Finished(prepared, trace)
            return
        config = self.generation(ask)
        if ask.stream and isinstance(self.model, StreamingChatModel):
            pieces = self.model.stream(prepared.conversation, config)  # queued now, or busy raised now
            yield Retrieved(prepared, trace.id)
            completion = yield from self._relay(pieces, trace, started)
        else:
            yield Retrieved(prepared, trace.id)
            [completion] = self.model.generate([prepared.conversation], config)
            trace.time_to_first_token_s = time.perf_counter() - started  # a whole answer arrives at once
        reviewed = answering.review(completion.text, prepared.sources, self.config)
        trace.answer, trace.guardrails = reviewed.text, [*trace.guardrails, *reviewed.verdicts]
        trace.status = "blocked" if reviewed.blocked else "ok"
        trace.finish_reason = "content_filter" if reviewed.blocked else completion.finish_reason
        trace.prompt_tokens, trace.completion_tokens = completion.prompt_tokens, completion.completion_tokens
        trace.total_latency_s = time.perf_counter() - started
        if not ask.stream:
            yield Token(reviewed.text)
        yield Finished(prepared, trace)

    def generation(self, ask: Ask) -> GenerationConfig:
        """The configured generation with the client's options, its answer length capped by the service."""
        config = self.config.generation
        update: dict[str, object] = {
            "max_new_tokens": min(ask.max_tokens or config.max_new_tokens, self.max_new_tokens)
        }
        if ask.temperature is not None:
            update["temperature"] = ask.temperature
        if ask.top_p is not None:
            update["top_p"] = ask.top_p
        return config.model_copy(update=update)

    def _prepare(self, ask: Ask, trace: Trace) -> answering.PreparedAnswer:
        started = time.perf_counter()
        if ask.instructions is not None and self.config.system_messages == "refuse":
            raise answering.SystemMessageRefusedError(
                "This twin does not take system messages (system_messages: refuse); send the conversation "
                "without one."
            )
        prepared = answering.prepare(ask.question, self.retriever, self.config, ask.history, ask.instructions)
        trace.query = prepared.search or prepared.question
        trace.guardrails = list(prepared.verdicts)
        if prepared.retrieval is not None:
            trace.retrieved_chunk_ids = [chunk.chunk_id for chunk in prepared.context]
            trace.timings_s.update(prepared.retrieval.timings_s)
        trace.timings_s["prepare"] = time.perf_counter() - started
        return prepared

    def _relay(
        self, pieces: Generator[str, None, Completion], trace: Trace, started: float
    ) -> Generator[Token, None, Completion]:
        """The model's pieces as tokens, personal data redacted as they pass; the completion at the end."""
        redactor = StreamRedactor() if self.config.guardrails.answer_pii in ("redact", "block") else None
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as end:
                    if redactor is not None and (rest := redactor.flush()):
                        yield Token(rest)
                    return end.value  # type: ignore[no-any-return]
                if trace.time_to_first_token_s is None:
                    trace.time_to_first_token_s = time.perf_counter() - started
                text = redactor.feed(piece) if redactor is not None else piece
                if text:
                    yield Token(text)
        finally:
            pieces.close()  # a client gone mid-answer abandons its request
