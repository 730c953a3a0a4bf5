"""Batched generation with retries for malformed answers only, and token accounting."""

from collections.abc import Callable, Sequence
from typing import NamedTuple

from loguru import logger

from llm_engineering.application.ports import ChatModel, SamplingChatModel
from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig, UsageTotals


class ParsedAnswers(NamedTuple):
    """The parsed answers by conversation index, the usage, the last failure reason of each conversation
    that never parsed, and how many parsed on the first try."""

    parsed: dict[int, str]
    usage: UsageTotals
    failures: dict[int, str]
    first_try: int


def generate_parsed(
    chat: ChatModel,
    conversations: Sequence[Conversation],
    parse: Callable[[int, str], str],
    config: GenerationConfig,
    batch_size: int,
    max_retries: int,
) -> ParsedAnswers:
    """Answer every conversation and parse each answer; re-ask only those whose answer did not parse.

    `parse(index, text)` gets the conversation's index, for checks against what that conversation asked.
    Retries sample (temperature > 0, a new seed), since greedy decoding
    would only repeat the same malformed answer.
    """
    parsed: dict[int, str] = {}
    failures: dict[int, str] = {}
    usage = UsageTotals()
    pending = list(range(len(conversations)))
    first_try = 0
    for attempt in range(max_retries + 1):
        attempt_config = config if attempt == 0 else retry_config(config, attempt)
        failures = {}
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            completions = chat.generate([conversations[i] for i in batch], attempt_config)
            usage = usage.add(completions)
            for index, completion in zip(batch, completions, strict=True):
                try:
                    parsed[index] = parse(index, completion.text)
                except MalformedAnswerError as error:
                    failures[index] = str(error)
            logger.info(
                "Generated {}/{} (attempt {})",
                min(start + batch_size, len(pending)),
                len(pending),
                attempt + 1,
            )
        if attempt == 0:
            first_try = len(parsed)
            logger.info("{}/{} answers parsed on the first try", first_try, len(conversations))
        pending = sorted(failures)
        if not pending:
            break
    return ParsedAnswers(parsed, usage, failures, first_try)


def retry_config(config: GenerationConfig, attempt: int) -> GenerationConfig:
    """Sampling settings for a retry: never greedy, and a different seed each attempt."""
    return config.model_copy(
        update={"temperature": max(config.temperature, 0.7), "seed": (config.seed or 0) + attempt}
    )


def sample_answers(
    chat: ChatModel, conversations: Sequence[Conversation], config: GenerationConfig, count: int
) -> list[list[Completion]]:
    """`count` sampled answers per conversation: in one pass where the model samples several at once,
    otherwise by asking `count` times with seeds counted up from the config's."""
    if count == 1:
        return [[completion] for completion in chat.generate(conversations, config)]
    if isinstance(chat, SamplingChatModel):
        return chat.sample(conversations, config, count)
    rounds = [
        chat.generate(conversations, config.model_copy(update={"seed": (config.seed or 0) + k}))
        for k in range(count)
    ]
    return [list(answers) for answers in zip(*rounds, strict=True)]
