"""Scoring single-token choices by their next-token probability after a chat prompt."""

from collections.abc import Sequence
from typing import Any

from llm_engineering.domain.exceptions import TwinError


def choice_token_ids(tokenizer: Any, choices: Sequence[str], model_id: str) -> dict[str, int]:
    """The one token id of each choice; a choice of several tokens, or two sharing one, cannot be scored."""
    ids = {}
    for choice in choices:
        tokens = tokenizer.encode(choice, add_special_tokens=False)
        if len(tokens) != 1:
            raise TwinError(f"The choice {choice!r} is {len(tokens)} tokens for {model_id}; use one.")
        ids[choice] = tokens[0]
    if len(set(ids.values())) != len(ids):
        raise TwinError(f"The choices {list(choices)} share a token for {model_id}.")
    return ids


def score_choices(
    model: Any, tokenizer: Any, prompts: list[str], ids: dict[str, int]
) -> list[dict[str, float]]:
    """Each prompt's next-token probability of every choice, renormalised over them; one forward pass."""
    import torch

    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        logits = model(**inputs).logits[:, -1, :]  # left padding: the last position is the prompt's
    chosen = torch.softmax(logits[:, list(ids.values())].float(), dim=-1)
    return [dict(zip(ids, row.tolist(), strict=True)) for row in chosen]
