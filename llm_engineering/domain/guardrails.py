"""Checks on questions to the twin and on its answers: injection, personal data, broken or leaky answers."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import GuardrailAction, GuardrailStage, GuardrailVerdict
from llm_engineering.domain.pii import redact_pii
from llm_engineering.domain.prompt_injection import find_injections

Mode = Literal["off", "flag", "block"]

BLOCKED_ANSWER = "Sorry, I can't help with that request."

# What a user is told per refusing check; it names the reason, never the patterns or the text that matched.
_REASONS = {
    "prompt_injection": "the question tries to change how the assistant is instructed to behave",
    "pii": "the question contains personal data such as an email address, phone or card number",
    "empty_answer": "the model produced no answer",
    "repetition": "the model's answer went into a loop",
    "system_prompt_leak": "the answer repeated the assistant's private instructions",
}


class GuardrailConfig(BaseModel):
    """What each guardrail does when it fires, and the thresholds of the output checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_injection: Mode = Field("block", description="Questions that try to override the instructions.")
    pii: Literal["off", "flag", "redact", "block"] = Field(
        "redact", description="Personal data in questions."
    )
    empty_answer: Mode = Field("block", description="Answers without a single letter or digit.")
    repetition: Mode = Field("flag", description="Answers that loop over the same phrases.")
    repetition_ngram_words: int = Field(4, ge=1, description="Words per n-gram counted by `repetition`.")
    max_repeated_ngram_share: float = Field(0.5, gt=0, lt=1, description="Repeated n-gram share that loops.")
    system_prompt_leak: Mode = Field("block", description="Answers that quote the system prompt.")
    leak_min_shared_words: int = Field(8, ge=3, description="Consecutive system prompt words that leak it.")


class InputCheck(BaseModel):
    """A question after the input guardrails: the text to use downstream and what each check did."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="The question, with personal data replaced by placeholders when redacted.")
    verdicts: list[GuardrailVerdict]

    @property
    def blocked(self) -> bool:
        return any(verdict.blocked for verdict in self.verdicts)


_ACTIONS: dict[str, GuardrailAction] = {"flag": "flagged", "redact": "redacted", "block": "blocked"}


def _verdict(name: str, stage: GuardrailStage, mode: str, detail: str | None) -> GuardrailVerdict:
    """`detail` None means nothing was found; otherwise the mode decides the action."""
    action = "passed" if detail is None else _ACTIONS[mode]
    return GuardrailVerdict(name=name, stage=stage, action=action, detail=detail or "")


def check_input(text: str, config: GuardrailConfig) -> InputCheck:
    """Run the enabled input guardrails; redacted and blocked questions keep personal data hidden."""
    verdicts = []
    if config.prompt_injection != "off":
        families = find_injections(text)
        detail = f"matched {', '.join(families)}" if families else None
        verdicts.append(_verdict("prompt_injection", "input", config.prompt_injection, detail))
    if config.pii != "off":
        redacted, found = redact_pii(text)
        detail = f"found {', '.join(f'{count} {kind}' for kind, count in found.items())}" if found else None
        verdicts.append(_verdict("pii", "input", config.pii, detail))
        # A blocked question is still logged, so it keeps its personal data hidden too.
        text = redacted if config.pii in ("redact", "block") else text
    return InputCheck(text=text, verdicts=verdicts)


def _ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    """Word n-grams, ignoring case, spacing and punctuation."""
    words = re.findall(r"\w+", text.lower())
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def repeated_ngram_share(text: str, n: int) -> float:
    """Share of word n-grams of `text` that repeat an earlier one: 0 for varied text, near 1 for a loop."""
    ngrams = _ngrams(text, n)
    return 1 - len(set(ngrams)) / len(ngrams) if ngrams else 0.0


def check_output(answer: str, system_prompt: str, config: GuardrailConfig) -> list[GuardrailVerdict]:
    """Run the enabled output guardrails on an answer.

    Pass the fixed instructions as `system_prompt`, not the retrieved context, which answers may quote.
    """
    share = repeated_ngram_share(answer, config.repetition_ngram_words)
    n = config.leak_min_shared_words
    leaked = not set(_ngrams(answer, n)).isdisjoint(_ngrams(system_prompt, n))
    details = {
        "empty_answer": None if re.search(r"\w", answer) else "no letter or digit",
        "repetition": f"{share:.0%} of n-grams repeat" if share > config.max_repeated_ngram_share else None,
        "system_prompt_leak": f"shares {n}+ consecutive words with the prompt" if leaked else None,
    }
    # Each check is named after its config field, which holds its mode.
    modes = {name: getattr(config, name) for name in details}
    return [
        _verdict(name, "output", modes[name], found)
        for name, found in details.items()
        if modes[name] != "off"
    ]


def blocked_message(verdicts: list[GuardrailVerdict]) -> str:
    """What to tell the user instead of a blocked answer: which checks refused, without their internals."""
    reasons = [
        _REASONS.get(verdict.name, "a safety check refused it") for verdict in verdicts if verdict.blocked
    ]
    if not reasons:
        raise TwinError(
            "blocked_message needs at least one blocked verdict; check `.blocked` before calling it."
        )
    return f"{BLOCKED_ANSWER} Reason: {'; '.join(dict.fromkeys(reasons))}."
