"""Running transformers' generate for a chat model: sampling arguments, streaming, and decoding answers."""

import threading
from collections.abc import Generator
from typing import Any

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import Completion, GenerationConfig

STREAM_TIMEOUT_S = 300.0  # longest wait for the next piece of a streamed answer


def sampling_arguments(config: GenerationConfig, pad_token_id: int | None) -> dict[str, Any]:
    """generate()'s arguments for `config`: greedy decoding at temperature 0, nucleus sampling otherwise."""
    common = {
        "max_new_tokens": config.max_new_tokens,
        "pad_token_id": pad_token_id,
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


def stop_token_ids(eos_token_id: int | list[int] | None, tokenizer: Any) -> set[int]:
    """The ids that end an answer: the tokenizer's end and padding tokens and the model's end tokens
    (`eos_token_id` of its generation config)."""
    stops = set(eos_token_id) if isinstance(eos_token_id, list) else {eos_token_id}
    return {tokenizer.eos_token_id, tokenizer.pad_token_id, *stops} - {None}


def decode_completion(
    tokenizer: Any, ids: list[int], stops: set[int], *, model_id: str, prompt_tokens: int
) -> Completion:
    """The answer in one row of generated ids; it ends at, and its token count includes, the first stop."""
    # Finished rows are padded to the batch's longest answer; the answer ends at its first stop token.
    end = next((position for position, token in enumerate(ids) if token in stops), None)
    text = tokenizer.decode(ids[:end], skip_special_tokens=True).strip()
    completion_tokens = len(ids) if end is None else end + 1
    return Completion(
        text=text, model=model_id, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


def stream_generation(
    model: Any, tokenizer: Any, arguments: dict[str, Any], model_id: str
) -> Generator[str, None, tuple[Any, str]]:
    """Text pieces as `model.generate(**arguments)` produces them in a worker thread, then its output ids
    and the joined text; a failure in the worker is raised here."""
    import torch
    from transformers import TextIteratorStreamer

    streamer = TextIteratorStreamer(
        tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TIMEOUT_S
    )
    failures: list[BaseException] = []
    outputs: list[Any] = []

    def run() -> None:
        try:
            with torch.inference_mode():
                outputs.append(model.generate(**arguments, streamer=streamer))
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
        raise LLMError(f"{model_id} failed while streaming: {failures[0]}") from failures[0]
    return outputs[0], "".join(pieces)
