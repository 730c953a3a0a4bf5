"""A local chat model on CTranslate2: int8 on the CPU, batched generation, streaming and choice scoring.

The prompt is the model's own chat template (the one training uses), tokenized by its Hugging Face
tokenizer; CTranslate2 runs the converted weights (`engine_files`). A model this small is fastest with one
thread per computation and one replica per core (measured: 70 against 32 tokens/s for one answer with two
threads on one replica, 230 against 98 for eight), so a batch is split across the replicas. The engine takes
concurrent calls on its own, so no lock is held here, not even while a stream is being read.
"""

import math
import os
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig, cut_at_stop
from llm_engineering.infrastructure.llm.local.choices import choice_token_ids
from llm_engineering.infrastructure.llm.local.engine_files import ensure_engine_files
from llm_engineering.infrastructure.llm.local.generation import (
    StopCutter,
    decode_completion,
    finish_reason_for,
    prefix_ids,
    stop_token_ids,
)

PARTIAL_CHARACTER = "\ufffd"  # what decoding shows for a character whose bytes are not all generated yet
LENGTH_SPREAD = 8  # most prompt tokens by which the prompts of one batch may differ


class CTranslate2ChatModel:
    """A `ChatModel`, `StreamingChatModel` and `ChoiceScorer` over a model folder, loaded on first use."""

    def __init__(
        self, model_dir: Path, threads: int | None = None, batch_size: int = 8, label: str | None = None
    ) -> None:
        self.model_id = label or model_dir.name
        self.model_dir = model_dir
        self._workers = threads or os.cpu_count() or 1
        self._batch_size = batch_size
        self._generator: Any = None
        self._engine_dir: Path | None = None
        self._tokenizer: Any = None
        self._stops: set[int] = set()
        self._stop_tokens: dict[tuple[str, ...], set[int]] = {(): set()}

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        """One completion per conversation, in order, in batches of like-length prompts over the replicas."""
        return [answers[0] for answers in self._generate(conversations, config, on_token=None)]

    def sample(
        self, conversations: Sequence[Conversation], config: GenerationConfig, count: int
    ) -> list[list[Completion]]:
        """`count` sampled answers per conversation, in order: each prompt is read once and its answers are
        decoded together, so several answers cost little more than one. Needs a temperature above 0."""
        if config.temperature == 0:
            raise TwinError("Several answers to one prompt need sampling: set a temperature above 0.")
        return self._generate(conversations, config, on_token=None, hypotheses=count)

    def generate_streaming(
        self,
        conversations: Sequence[Conversation],
        config: GenerationConfig,
        emit: Callable[[int, str], None],
    ) -> list[Completion]:
        """`generate`'s completions, from the same batched calls; meanwhile `emit(index, piece)` gets each new
        piece of the answer to `conversations[index]`, so that its pieces join to its completion's text.
        `emit` runs on the engine's threads, between two decoding steps: it must return quickly."""
        self._load()
        answers = [_UnfoldingAnswer(self._tokenizer, self._stops, config) for _ in conversations]

        def on_token(index: int, token_id: int) -> None:
            if piece := answers[index].add(token_id):
                emit(index, piece)

        completions = [answers[0] for answers in self._generate(conversations, config, on_token)]
        for index, (answer, completion) in enumerate(zip(answers, completions, strict=True)):
            if rest := answer.finish(completion.text):
                emit(index, rest)
        return completions

    def _generate(
        self,
        conversations: Sequence[Conversation],
        config: GenerationConfig,
        on_token: Callable[[int, int], None] | None,
        hypotheses: int = 1,
    ) -> list[list[Completion]]:
        """`hypotheses` answers per conversation, with `on_token(index, token_id)` called on the engine's
        threads per token generated (one answer per conversation only)."""
        self._load()
        prompts = [self._prompt_tokens(conversation, config) for conversation in conversations]
        started = time.perf_counter()
        generators = self._generators_for(config)
        options = {
            "max_length": config.max_new_tokens,
            "include_prompt_in_result": False,
            "return_end_token": True,
            "end_token": self._end_tokens(config),
            "num_hypotheses": hypotheses,
            **self._sampling(config),
        }
        groups = self._groups([len(prompt) for prompt in prompts])
        pending = [
            (
                group,
                generators[n % len(generators)].generate_batch(
                    [prompts[i] for i in group],
                    asynchronous=True,
                    callback=None if on_token is None else _step_callback(group, on_token),
                    **options,
                ),
            )
            for n, group in enumerate(groups)
        ]
        results: list[Any] = [None] * len(prompts)
        for group, futures in pending:
            for index, future in zip(group, futures, strict=True):
                results[index] = future.result()
        completions = [
            [self._completion(ids, len(prompt), config) for ids in result.sequences_ids]
            for result, prompt in zip(results, prompts, strict=True)
        ]
        generated = sum(answer.completion_tokens for answers in completions for answer in answers)
        elapsed = time.perf_counter() - started
        logger.debug("Generated {} tokens for {} prompts in {:.1f} s", generated, len(prompts), elapsed)
        return completions

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        """The answer in text pieces as the engine produces tokens, then its Completion (token counts as
        `generate` counts them, end token included)."""
        self._load()
        prompt = self._prompt_tokens(conversation, config)
        prefix = prefix_ids(self._tokenizer, config)
        shown_prefix = len(self._tokenizer.decode(prefix, skip_special_tokens=True))
        [generator] = self._generators_for(config, count=1)
        steps = generator.generate_tokens(
            prompt,
            max_length=config.max_new_tokens,
            end_token=self._end_tokens(config),
            **self._sampling(config),
        )
        if config.answer_prefix:
            yield config.answer_prefix
        cutter = StopCutter(config.stop)
        ids: list[int] = []
        decoded = ""
        ended = False
        for step in steps:
            if step.token_id in self._stops:
                ended = True
                break
            ids.append(step.token_id)
            text = self._tokenizer.decode(prefix + ids, skip_special_tokens=True)[shown_prefix:]
            if text.endswith(PARTIAL_CHARACTER):
                continue  # wait for the rest of a multi-byte character
            if shown := cutter.feed(text[len(decoded) :]):
                yield shown
            decoded = text
            if cutter.stopped:
                break
        text = self._tokenizer.decode(prefix + ids, skip_special_tokens=True)[shown_prefix:]
        if shown := cutter.feed(text[len(decoded) :]) + cutter.flush():
            yield shown
        return Completion(
            text=config.answer_prefix + cutter.text,
            model=self.model_id,
            prompt_tokens=len(prompt),
            completion_tokens=len(ids) + ended,
            finish_reason=finish_reason_for(len(ids), config.max_new_tokens, ended=ended or cutter.stopped),
        )

    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        """The next-token probability of each choice after the assistant turn opens, renormalised over
        the choices: one generation step per prompt, in batches of like-length prompts over the replicas,
        with the step's scores over the whole vocabulary."""
        import numpy as np

        self._load()
        ids = choice_token_ids(self._tokenizer, choices, self.model_id)
        prompts = [self._prompt_tokens(conversation) for conversation in conversations]
        pending = [
            (
                group,
                self._generator.generate_batch(
                    [prompts[i] for i in group],
                    asynchronous=True,
                    max_length=1,
                    include_prompt_in_result=False,
                    return_logits_vocab=True,
                ),
            )
            for group in self._groups([len(prompt) for prompt in prompts])
        ]
        probabilities: list[dict[str, float]] = [{} for _ in prompts]
        for group, futures in pending:
            for index, future in zip(group, futures, strict=True):
                scores = np.asarray(future.result().logits[0][0], dtype=np.float64)
                # Softmax over the choices alone: the normaliser over the vocabulary cancels out.
                chosen = np.array([scores[token] for token in ids.values()])
                weights = np.exp(chosen - chosen.max())
                probabilities[index] = dict(zip(ids, (weights / weights.sum()).tolist(), strict=True))
        return probabilities

    def _groups(self, lengths: Sequence[int]) -> list[list[int]]:
        """Prompt indices batched by length: the engine feeds a batch's shared length at once but the rest of
        a longer prompt token by token, so prompts of unlike length go apart (measured on real passages of 150
        to 340 tokens: 2.7 s apart, 11.5 s as one batch of eight). Batches are small enough to keep every
        replica busy."""
        size = min(self._batch_size, max(1, math.ceil(len(lengths) / self._workers)))
        groups: list[list[int]] = []
        for index in sorted(range(len(lengths)), key=lengths.__getitem__):
            group = groups[-1] if groups else None
            if group and len(group) < size and lengths[index] - lengths[group[0]] <= LENGTH_SPREAD:
                group.append(index)
            else:
                groups.append([index])
        return groups

    def _prompt_tokens(self, conversation: Conversation, config: GenerationConfig | None = None) -> list[str]:
        """The chat template's prompt opening the assistant turn, then the answer prefix, if any."""
        text = self._tokenizer.apply_chat_template(
            [message.model_dump() for message in conversation], tokenize=False, add_generation_prompt=True
        )
        # The template already writes the special tokens; the tokenizer must not add a second BOS.
        ids = self._tokenizer.encode(text, add_special_tokens=False)
        return self._tokenizer.convert_ids_to_tokens(
            ids + (prefix_ids(self._tokenizer, config) if config else [])
        )

    def _end_tokens(self, config: GenerationConfig) -> list[int]:
        """The model's end tokens, and every token whose text holds one of the stop strings: generation ends
        on it, and the answer is then cut inside it, before the stop string."""
        if config.stop not in self._stop_tokens:
            vocabulary = self._tokenizer.batch_decode([[token] for token in range(len(self._tokenizer))])
            self._stop_tokens[config.stop] = {
                token for token, text in enumerate(vocabulary) if any(stop in text for stop in config.stop)
            }
        return sorted(self._stops | self._stop_tokens[config.stop])

    def _generators_for(self, config: GenerationConfig, count: int | None = None) -> list[Any]:
        """The shared generator (its replicas take batches as they come), or for seeded sampling `count`
        fresh one-replica generators (one per core by default), each given its batches in a fixed order.

        CTranslate2 seeds a worker thread's random generator when the thread starts, so a seed set later
        changes nothing: a sampled call with a seed gets workers started under it (0.15 s to load each),
        and a fixed order of batches on each, so that it repeats. Greedy answers need no seed.
        """
        if config.seed is None or config.temperature == 0:
            return [self._generator]
        import ctranslate2

        ctranslate2.set_random_seed(config.seed)
        return [cpu_generator(self._engine_dir) for _ in range(count or self._workers)]

    def _sampling(self, config: GenerationConfig) -> dict[str, Any]:
        """Greedy at temperature 0, nucleus sampling otherwise (top-k off, as on the other backends)."""
        common = {"repetition_penalty": config.repetition_penalty}
        if config.temperature == 0:
            return {**common, "sampling_topk": 1}
        return {
            **common,
            "sampling_topk": 0,
            "sampling_topp": config.top_p,
            "sampling_temperature": config.temperature,
        }

    def _completion(self, ids: list[int], prompt_tokens: int, config: GenerationConfig) -> Completion:
        return decode_completion(
            self._tokenizer,
            ids,
            self._stops,
            model_id=self.model_id,
            prompt_tokens=prompt_tokens,
            config=config,
        )

    def _load(self) -> None:
        if self._generator is not None:
            return
        from transformers import AutoTokenizer
        from transformers import GenerationConfig as HFGenerationConfig

        started = time.perf_counter()
        engine_dir = self._engine_dir = ensure_engine_files(self.model_dir)
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        eos = HFGenerationConfig.from_pretrained(self.model_dir).eos_token_id
        self._stops = stop_token_ids(eos, tokenizer)
        self._tokenizer = tokenizer
        self._generator = cpu_generator(engine_dir, inter_threads=self._workers)
        logger.info("Loaded {} on CTranslate2 in {:.1f} s", self.model_dir, time.perf_counter() - started)


def cpu_generator(engine_dir: Path, inter_threads: int = 1) -> Any:
    """A CTranslate2 generator on the CPU in int8, one thread per replica.

    Building one sets the calling thread's OpenMP thread count to that one thread, and torch reads its count
    from there: training and embedding in the same process then ran on one core (SFT at 93 tokens/s instead of
    145 when the main job ran in one process). Torch's count is put back.
    """
    import ctranslate2
    import torch

    threads = torch.get_num_threads()
    try:
        return ctranslate2.Generator(
            str(engine_dir), device="cpu", compute_type="int8", inter_threads=inter_threads, intra_threads=1
        )
    finally:
        torch.set_num_threads(threads)


def _step_callback(group: Sequence[int], on_token: Callable[[int, int], None]) -> Callable[[Any], bool]:
    """generate_batch's per-token callback for the prompts `group` indexes: the step's batch id is a position
    in the group. It never asks the engine to stop: an answer must end where `generate` would end it."""

    def callback(step: Any) -> bool:
        on_token(group[step.batch_id], step.token_id)
        return False

    return callback


class _UnfoldingAnswer:
    """One answer's text as its tokens arrive, shown only as far as `decode_completion` will keep it: never
    half a character, nor what may yet begin a stop string, nor whitespace the answer may end with (the
    completion's text is stripped); the rest comes with the finished text."""

    def __init__(self, tokenizer: Any, stops: set[int], config: GenerationConfig) -> None:
        self._tokenizer, self._stops, self._stop_strings = tokenizer, stops, config.stop
        self._prefix = prefix_ids(tokenizer, config)
        self._start = len(tokenizer.decode(self._prefix, skip_special_tokens=True))  # no stop within it
        self._hold = max((len(stop) - 1 for stop in config.stop), default=0)
        self._ids: list[int] = []
        self._ended = False
        self.shown = ""

    def add(self, token_id: int) -> str:
        """The newly showable text once `token_id` is generated."""
        if self._ended or token_id in self._stops:
            self._ended = True  # the answer ends at the first stop token, as decode_completion ends it
            return ""
        self._ids.append(token_id)
        text = self._tokenizer.decode(self._prefix + self._ids, skip_special_tokens=True)
        if text.endswith(PARTIAL_CHARACTER):
            return ""  # wait for the rest of a multi-byte character
        text, self._ended = cut_at_stop(text, self._stop_strings, start=self._start)
        if not self._ended:
            text = text[: max(min(self._start, len(text)), len(text) - self._hold)]
        return self._show(text.strip())

    def finish(self, text: str) -> str:
        """What is left to show of the finished answer's `text`."""
        return self._show(text)

    def _show(self, text: str) -> str:
        if not text.startswith(self.shown):
            logger.warning("A streamed answer was decoded differently once finished: {!r}", text)
            return ""
        piece, self.shown = text[len(self.shown) :], text
        return piece
