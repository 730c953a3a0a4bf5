"""Dynamic batching: concurrent requests share generate calls; the queue is bounded."""

import threading
import time
from collections.abc import Sequence

import pytest

from llm_engineering.domain.generation import ChatMessage, Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.api.batching import DynamicBatcher, ServiceBusyError
from tests.support.fakes import ScriptedChatModel

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
    assert model.batches == [1, 5] and batcher.batch_sizes == [1, 5]
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
