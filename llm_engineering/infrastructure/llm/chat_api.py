"""The chat-completions wire format shared by OpenAI-compatible servers and TGI on SageMaker."""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig

Item = TypeVar("Item")
Result = TypeVar("Result")


class HttpChatOptions(BaseModel):
    """How a remote chat backend is called: parallelism, patience, and what its tokens cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(4, gt=0, description="Requests in flight at once.")
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one answer.")
    max_retries: int = Field(3, ge=0, description="Retries after a timeout, a lost connection, 429 or 5xx.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles with each retry.")
    json_mode_supported: bool = Field(
        True, description="Whether the server accepts response_format={'type': 'json_object'}."
    )
    stream_usage_supported: bool = Field(
        True,
        description="Whether the server accepts stream_options={'include_usage': true}, which ends a stream "
        "with its token counts; without it, streamed chunks are counted as completion tokens.",
    )
    prompt_price_per_1k: float = Field(0.0, ge=0, description="USD per 1,000 prompt tokens.")
    completion_price_per_1k: float = Field(0.0, ge=0, description="USD per 1,000 completion tokens.")

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """What one call cost at these prices."""
        return (
            prompt_tokens * self.prompt_price_per_1k + completion_tokens * self.completion_price_per_1k
        ) / 1000


def chat_body(
    conversation: Conversation, config: GenerationConfig, json_mode_supported: bool
) -> dict[str, Any]:
    """The request body for one conversation, without the model name.

    top_p of 1 and an unset seed are left out: both mean "no constraint", and TGI rejects top_p == 1.
    """
    body: dict[str, Any] = {
        "messages": [message.model_dump() for message in conversation],
        "max_tokens": config.max_new_tokens,
        "temperature": config.temperature,
    }
    if config.top_p < 1:
        body["top_p"] = config.top_p
    if config.seed is not None:
        body["seed"] = config.seed
    if config.stop:
        body["stop"] = list(config.stop)
    if config.repetition_penalty != 1.0:
        body["repetition_penalty"] = config.repetition_penalty  # vLLM, TGI and llama.cpp read it
    if config.json_mode and json_mode_supported:
        body["response_format"] = {"type": "json_object"}
    return body


def parse_chat_completion(answer: Any, model: str, options: HttpChatOptions, server: str) -> Completion:
    """A Completion from a chat-completion response; servers that omit `usage` count 0 tokens."""
    try:
        text = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as error:
        raise LLMError(
            f"{server} answered without choices[0].message.content ({str(answer)[:200]}); "
            "check that it speaks the chat-completions protocol."
        ) from error
    if not isinstance(text, str):
        raise LLMError(f"{server} answered with no text content ({str(answer)[:200]}).")
    usage = answer.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    return Completion(
        text=text,
        model=str(answer.get("model") or model),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=options.cost_usd(prompt_tokens, completion_tokens),
        finish_reason=parse_finish_reason(answer["choices"][0].get("finish_reason")),
    )


def parse_finish_reason(reported: object) -> Literal["stop", "length"]:
    """Ours from a server's `finish_reason`: only "length" says max_tokens cut the answer; "stop",
    "eos_token", "stop_sequence", "tool_calls", "content_filter" or none all mean it ended otherwise."""
    return "length" if reported == "length" else "stop"


def map_in_order(call: Callable[[Item], Result], items: Sequence[Item], concurrency: int) -> list[Result]:
    """`call` on every item with at most `concurrency` running at once; results keep the items' order.

    The first failure (in item order) is raised after the calls not yet started are cancelled.
    """
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        futures = [pool.submit(call, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
