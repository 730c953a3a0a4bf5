"""A Hugging Face causal LM with a chat template run in-process, and the bundled SmolLM2 it defaults to."""

import shutil
import tempfile
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.llm.local.choices import choice_token_ids, score_choices
from llm_engineering.infrastructure.llm.local.conversion import convert_gguf, packaged_gguf
from llm_engineering.infrastructure.llm.local.generation import (
    cut_stream,
    decode_completion,
    sampling_arguments,
    stop_token_ids,
    stream_generation,
)


def is_model_dir(directory: Path) -> bool:
    """Whether `directory` holds a saved model with its tokenizer (what save_pretrained writes)."""
    return (
        (directory / "config.json").is_file()
        and (directory / "tokenizer_config.json").is_file()
        and any(directory.glob("*.safetensors"))
    )


def ensure_local_model(target_dir: Path) -> Path:
    """`target_dir` holding SmolLM2 as safetensors, converted from the bundled GGUF on first use."""
    if is_model_dir(target_dir):
        return target_dir
    gguf = packaged_gguf()
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    # Convert next to the target and rename, so an interrupted run never leaves a half model behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}-", dir=target_dir.parent))
    try:
        convert_gguf(gguf, staging)
        if target_dir.is_dir() and not any(target_dir.iterdir()):
            target_dir.rmdir()
        staging.rename(target_dir)
    except OSError as error:
        shutil.rmtree(staging)
        if is_model_dir(target_dir):  # another process finished the same conversion first
            return target_dir
        raise TwinError(
            f"Could not write the local model to {target_dir} ({error}); remove that folder and retry."
        ) from error
    except BaseException:
        shutil.rmtree(staging)
        raise
    return target_dir


class TransformersChatModel:
    """A local causal LM answering in left-padded batches; loaded on the first generate call."""

    def __init__(
        self, model_dir: Path, threads: int | None = None, batch_size: int = 8, label: str | None = None
    ) -> None:
        self.model_id = label or model_dir.name
        self.model_dir = model_dir
        self._threads = threads
        self._batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        # One generation at a time: concurrent calls would only fight over the same CPU cores.
        self._lock = threading.Lock()

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        """One completion per conversation, in order, generated `batch_size` at a time."""
        with self._lock:
            self._load()
            completions: list[Completion] = []
            for start in range(0, len(conversations), self._batch_size):
                batch = conversations[start : start + self._batch_size]
                completions += self._generate_batch(batch, config, start // self._batch_size)
            return completions

    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        """The next-token probability of each choice after the assistant turn opens, renormalised over the
        choices; one forward pass per batch, no generation."""
        with self._lock:
            self._load()
            ids = choice_token_ids(self._tokenizer, choices, self.model_id)
            probabilities: list[dict[str, float]] = []
            for start in range(0, len(conversations), self._batch_size):
                batch = conversations[start : start + self._batch_size]
                probabilities += score_choices(self._model, self._tokenizer, self._prompts(batch), ids)
            return probabilities

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        """The answer in text pieces as generation produces them, then its Completion with exact token
        counts (those of the generated ids, end token included, as `generate` counts); holds the model
        until it is done."""
        with self._lock:
            self._load()
            inputs = self._tokenizer(
                self._prompts([conversation], config), return_tensors="pt", add_special_tokens=False
            )
            arguments = {**inputs, **self._sampling(config)}
            if config.answer_prefix:
                yield config.answer_prefix
            (output, _), text = yield from cut_stream(
                stream_generation(self._model, self._tokenizer, arguments, self.model_id), config.stop
            )
            prompt_tokens = int(inputs["input_ids"].shape[1])
            counted = self._completion(output[0, prompt_tokens:], prompt_tokens, config)
            # The text is what the client was streamed, unstripped, so pieces and answer agree.
            return counted.model_copy(update={"text": config.answer_prefix + text})

    def _prompts(self, batch: Sequence[Conversation], config: GenerationConfig | None = None) -> list[str]:
        """The chat template's prompts, each opening the assistant turn (with the answer prefix, if any)."""
        prefix = config.answer_prefix if config else ""
        return [
            self._tokenizer.apply_chat_template(
                [message.model_dump() for message in conversation], tokenize=False, add_generation_prompt=True
            )
            + prefix
            for conversation in batch
        ]

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not is_model_dir(self.model_dir):
            raise TwinError(f"No model in {self.model_dir}; set LLM_MODEL_DIR to a saved Hugging Face model.")
        started = time.perf_counter()
        if self._threads:
            torch.set_num_threads(self._threads)  # process-wide: torch has one intra-op pool
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if not tokenizer.chat_template:
            raise TwinError(f"The tokenizer in {self.model_dir} has no chat template; save one with it.")
        tokenizer.padding_side = "left"  # decoder-only: new tokens must follow each prompt directly
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._model = AutoModelForCausalLM.from_pretrained(self.model_dir).eval()
        self._tokenizer = tokenizer
        logger.info("Loaded {} in {:.1f} s", self.model_dir, time.perf_counter() - started)

    def _generate_batch(
        self, batch: Sequence[Conversation], config: GenerationConfig, index: int
    ) -> list[Completion]:
        import torch

        # The template already writes the special tokens; the tokenizer must not add a second BOS.
        inputs = self._tokenizer(
            self._prompts(batch, config), return_tensors="pt", padding=True, add_special_tokens=False
        )
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if config.seed is not None:
                torch.manual_seed(config.seed + index)  # inside fork_rng: the global stream is left as it was
            output = self._model.generate(**inputs, **self._sampling(config))
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        completions = [
            self._completion(tokens, int(prompt_tokens), config)
            for tokens, prompt_tokens in zip(new_tokens, inputs["attention_mask"].sum(dim=1), strict=True)
        ]
        generated = sum(completion.completion_tokens for completion in completions)
        elapsed = time.perf_counter() - started
        logger.debug("Generated {} tokens for {} prompts in {:.1f} s", generated, len(batch), elapsed)
        return completions

    def _sampling(self, config: GenerationConfig) -> dict[str, Any]:
        return sampling_arguments(config, self._tokenizer.pad_token_id, self._tokenizer)

    def _completion(self, tokens: Any, prompt_tokens: int, config: GenerationConfig) -> Completion:
        stops = stop_token_ids(self._model.generation_config.eos_token_id, self._tokenizer)
        return decode_completion(
            self._tokenizer,
            tokens.tolist(),
            stops,
            model_id=self.model_id,
            prompt_tokens=prompt_tokens,
            config=config,
        )
