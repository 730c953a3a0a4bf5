"""Running transformers' generate for a chat model: sampling arguments, streaming, and decoding answers."""

import threading
from collections.abc import Generator, Sequence
from typing import Any, Literal, TypeVar

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import Completion, GenerationConfig, cut_at_stop

Result = TypeVar("Result")

STREAM_TIMEOUT_S = 300.0  # longest wait for the next piece of a streamed answer


def sampling_arguments(config: GenerationConfig, pad_token_id: int | None, tokenizer: Any) -> dict[str, Any]:
    """generate()'s arguments for `config`: greedy decoding at temperature 0, nucleus sampling otherwise;
    stop strings end generation there (transformers needs the tokenizer to find them)."""
    common: dict[str, Any] = {
        "max_new_tokens": config.max_new_tokens,
        "pad_token_id": pad_token_id,
        "repetition_penalty": config.repetition_penalty,
    }
    if config.stop:
        common |= {"stop_strings": list(config.stop), "tokenizer": tokenizer}
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


def prefix_ids(tokenizer: Any, config: GenerationConfig) -> list[int]:
    """The token ids of the answer's prefix, which the prompt ends with."""
    return tokenizer.encode(config.answer_prefix, add_special_tokens=False) if config.answer_prefix else []


def decode_completion(
    tokenizer: Any,
    ids: list[int],
    stops: set[int],
    *,
    model_id: str,
    prompt_tokens: int,
    config: GenerationConfig | None = None,
) -> Completion:
    """The answer in one row of generated ids, after the answer prefix of `config` if it has one; it ends at
    the first stop token (which its token count includes) or before the first stop string. It finished by
    "length" when neither ended it and the row holds `max_new_tokens` ids."""
    # Finished rows are padded to the batch's longest answer; the answer ends at its first stop token.
    end = next((position for position, token in enumerate(ids) if token in stops), None)
    config = config or GenerationConfig()
    prefix = prefix_ids(tokenizer, config)
    # Decoded together, so that the first generated word keeps the space that joins it to the prefix.
    text = tokenizer.decode(prefix + ids[:end], skip_special_tokens=True)
    text, cut = cut_at_stop(text, config.stop, start=len(tokenizer.decode(prefix, skip_special_tokens=True)))
    completion_tokens = len(ids) if end is None else end + 1
    return Completion(
        text=text.strip(),
        model=model_id,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish_reason_for(
            completion_tokens, config.max_new_tokens, ended=end is not None or cut
        ),
    )


def finish_reason_for(generated: int, max_new_tokens: int, ended: bool) -> Literal["stop", "length"]:
    """Why an answer of `generated` tokens ended: by "length" when it filled its budget and no end token or
    stop string `ended` it, else by "stop"."""
    return "length" if not ended and generated >= max_new_tokens else "stop"


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


class StopCutter:
    """Shows a stream's text as it grows, up to the first stop string: text that may be the start of a stop
    string split across pieces is held back until the next piece settles it."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(stops)
        self._hold = max((len(stop) - 1 for stop in self._stops), default=0)
        self.text = ""
        self.stopped = False
        self._shown = 0

    def feed(self, piece: str) -> str:
        """The newly showable text once `piece` is added; nothing once a stop string was met."""
        if self.stopped:
            return ""
        self.text += piece
        self.text, self.stopped = cut_at_stop(self.text, self._stops, start=max(0, self._shown - self._hold))
        showable = len(self.text) if self.stopped else max(self._shown, len(self.text) - self._hold)
        shown, self._shown = self.text[self._shown : showable], showable
        return shown

    def flush(self) -> str:
        """What was held back, once the stream has ended."""
        rest, self._shown = self.text[self._shown :], len(self.text)
        return rest


def cut_stream(
    pieces: Generator[str, None, Result], stops: Sequence[str]
) -> Generator[str, None, tuple[Result, str]]:
    """The pieces of a stream up to its first stop string, then the stream's own result and the shown text.
    The stream is read to its end, since its result (token counts) comes last."""
    cutter = StopCutter(stops)
    while True:
        try:
            piece = next(pieces)
        except StopIteration as end:
            if rest := cutter.flush():
                yield rest
            return end.value, cutter.text
        if shown := cutter.feed(piece):
            yield shown
