"""Chat messages, generation settings and what a chat model returns, shared by every LLM backend."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


Conversation = list[ChatMessage]


class GenerationConfig(BaseModel):
    """How to sample one answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: int = Field(256, gt=0, description="Most tokens to generate per answer.")
    temperature: float = Field(0.7, ge=0, description="0 means greedy decoding.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    seed: int | None = Field(
        None, description="Sampling seed, for repeatable answers where the backend allows."
    )
    json_mode: bool = Field(False, description="Ask the backend for a JSON object where it supports that.")
    repetition_penalty: float = Field(
        1.0,
        ge=1.0,
        le=2.0,
        description="Above 1 discourages repeating tokens already written (small models loop without it); "
        "local and vLLM/TGI-style servers; 1 sends nothing.",
    )
    stop: tuple[str, ...] = Field(
        (),
        max_length=4,
        description="Strings that end the answer, which is cut before the first of them (at most 4, as the "
        "OpenAI API allows); servers get them as `stop`, local engines stop on the tokens that hold them.",
    )
    answer_prefix: str = Field(
        "",
        description="Text the answer starts with: local engines open the assistant turn with it and go on "
        "from there, and the answer includes it. Servers have no portable way to continue a turn, so they "
        "answer from the prompt alone; a prompt that uses a prefix should ask for the same start.",
    )

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, stops: tuple[str, ...]) -> tuple[str, ...]:
        if any(not stop for stop in stops):
            raise ValueError("A stop string cannot be empty; remove it from `stop`.")
        return stops


def cut_at_stop(text: str, stops: tuple[str, ...], start: int = 0) -> tuple[str, bool]:
    """`text` up to the first stop string found at or after `start`, and whether one was found."""
    found = [position for stop in stops if (position := text.find(stop, start)) >= 0]
    return (text[: min(found)], True) if found else (text, False)


class Completion(BaseModel):
    """One generated answer with its token accounting."""

    model_config = ConfigDict(frozen=True)

    text: str
    model: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost_usd: float = Field(0.0, ge=0)
    finish_reason: Literal["stop", "length"] = Field(
        "stop",
        description='Why the answer ended: "length" when it was cut at max_new_tokens; "stop" when the model '
        "ended it or a stop string did.",
    )


class UsageTotals(BaseModel):
    """Tokens and cost summed over many completions, for step metadata."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, completions: list[Completion]) -> "UsageTotals":
        return UsageTotals(
            calls=self.calls + len(completions),
            prompt_tokens=self.prompt_tokens + sum(c.prompt_tokens for c in completions),
            completion_tokens=self.completion_tokens + sum(c.completion_tokens for c in completions),
            cost_usd=self.cost_usd + sum(c.cost_usd for c in completions),
        )

    def add_totals(self, other: "UsageTotals") -> "UsageTotals":
        return UsageTotals(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


# The system prompt the twin is trained with and served with; both sides import it from here.
TWIN_SYSTEM_PROMPT = (
    "You are the writing twin of the author whose articles, posts and code you learned from. "
    "Answer in their voice, from their material."
)
