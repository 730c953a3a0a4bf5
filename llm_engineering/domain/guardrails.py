"""Checks on questions, retrieved passages and answers: injection, personal data, broken or leaky answers."""

import re
from collections.abc import Collection
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import GuardrailAction, GuardrailStage, GuardrailVerdict
from llm_engineering.domain.pii import redact_pii
from llm_engineering.domain.prompt_injection import find_injections

Mode = Literal["off", "flag", "block"]
PiiMode = Literal["off", "flag", "redact", "block"]

BLOCKED_ANSWER = "Sorry, I can't help with that request."

# What a user is told per refusing check; it names the reason, never the patterns or the text that matched.
_REASONS = {
    "prompt_injection": "the question tries to change how the assistant is instructed to behave",
    "pii": "the question contains personal data such as an email address, phone or card number",
    "empty_answer": "the model produced no answer",
    "repetition": "the model's answer went into a loop",
    "system_prompt_leak": "the answer repeated the assistant's private instructions",
    "passage_injection": "a retrieved passage tried to change how the assistant is instructed to behave",
    "answer_pii": "the answer contained personal data such as an email address, phone or card number",
    "answer_injection": "the answer carried instructions meant to change how the assistant behaves",
    "answer_links": "the answer linked to pages that are not among its sources",
}


class GuardrailConfig(BaseModel):
    """What each guardrail does when it fires, and the thresholds of the output checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_injection: Mode = Field("block", description="Questions that try to override the instructions.")
    pii: PiiMode = Field("redact", description="Personal data in questions.")
    empty_answer: Mode = Field("block", description="Answers without a single letter or digit.")
    repetition: Mode = Field("flag", description="Answers that loop over the same phrases.")
    repetition_ngram_words: int = Field(4, ge=1, description="Words per n-gram counted by `repetition`.")
    max_repeated_ngram_share: float = Field(0.5, gt=0, lt=1, description="Repeated n-gram share that loops.")
    system_prompt_leak: Mode = Field("block", description="Answers that quote the system prompt.")
    leak_min_shared_words: int = Field(8, ge=3, description="Consecutive system prompt words that leak it.")
    passage_pii: Literal["off", "flag", "redact"] = Field(
        "redact", description="Personal data in retrieved passages, hidden from the prompt and the excerpts."
    )
    passage_injection: Mode = Field(
        "block",
        description="Retrieved passages that carry instructions; a blocked one stays out of the prompt.",
    )
    answer_pii: PiiMode = Field("redact", description="Personal data in answers.")
    answer_injection: Mode = Field(
        "flag", description="Answers that carry injected instructions, e.g. an echoed 'ignore previous ...'."
    )
    answer_links: Mode = Field("flag", description="Links in answers that are not among the sources' links.")


class TextCheck(BaseModel):
    """A text after the guardrails of one stage: the text to use downstream and what each check did."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="The text, with personal data replaced by placeholders when redacted.")
    verdicts: list[GuardrailVerdict]

    @property
    def blocked(self) -> bool:
        return any(verdict.blocked for verdict in self.verdicts)


# Questions were the first texts checked; their name for the result stays.
InputCheck = TextCheck

_ACTIONS: dict[str, GuardrailAction] = {"flag": "flagged", "redact": "redacted", "block": "blocked"}


def _verdict(name: str, stage: GuardrailStage, mode: str, detail: str | None) -> GuardrailVerdict:
    """`detail` None means nothing was found; otherwise the mode decides the action."""
    action = "passed" if detail is None else _ACTIONS[mode]
    return GuardrailVerdict(name=name, stage=stage, action=action, detail=detail or "")


def _injection(text: str, name: str, stage: GuardrailStage, mode: str) -> list[GuardrailVerdict]:
    """The verdict of the injection check called `name`, or none when its mode is "off"."""
    if mode == "off":
        return []
    families = find_injections(text)
    return [_verdict(name, stage, mode, f"matched {', '.join(families)}" if families else None)]


def _pii(text: str, name: str, stage: GuardrailStage, mode: str) -> tuple[str, list[GuardrailVerdict]]:
    """The text to pass on and the verdict of the personal data check called `name`."""
    if mode == "off":
        return text, []
    redacted, found = redact_pii(text)
    detail = f"found {', '.join(f'{count} {kind}' for kind, count in found.items())}" if found else None
    # A blocked text is still logged, so it keeps its personal data hidden too.
    return (text if mode == "flag" else redacted), [_verdict(name, stage, mode, detail)]


def check_input(text: str, config: GuardrailConfig) -> InputCheck:
    """Run the enabled input guardrails; redacted and blocked questions keep personal data hidden."""
    verdicts = _injection(text, "prompt_injection", "input", config.prompt_injection)
    text, pii = _pii(text, "pii", "input", config.pii)
    return TextCheck(text=text, verdicts=verdicts + pii)


def check_passage(text: str, config: GuardrailConfig) -> TextCheck:
    """Guard a retrieved passage before it enters the prompt or an excerpt; leave a blocked one out."""
    verdicts = _injection(text, "passage_injection", "retrieval", config.passage_injection)
    text, pii = _pii(text, "passage_pii", "retrieval", config.passage_pii)
    return TextCheck(text=text, verdicts=verdicts + pii)


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


_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`()\[\]{}]+", re.IGNORECASE)


def _link_key(url: str) -> str:
    """A link as compared: host in lower case, without scheme, "www.", fragment or trailing slash."""
    parts = urlsplit(url if "://" in url else f"//{url}")
    query = f"?{parts.query}" if parts.query else ""
    return parts.netloc.lower().removeprefix("www.") + parts.path.rstrip("/") + query


def _unknown_links(text: str, allowed_links: Collection[str]) -> list[str]:
    """The links in `text` not among `allowed_links`, as compared, e.g. ["evil.example/x"]."""
    allowed = {_link_key(link) for link in allowed_links}
    found = (_link_key(url.rstrip(".,;:!?")) for url in _URL.findall(text))
    return [key for key in dict.fromkeys(found) if key not in allowed]


def check_answer(
    answer: str, system_prompt: str, config: GuardrailConfig, allowed_links: Collection[str] = ()
) -> TextCheck:
    """The output checks, then injected instructions, links off the sources and personal data in the answer.

    Pass the retrieved sources' links as `allowed_links`. The text is the answer after redaction, blocked or
    not; show `blocked_message(check.verdicts)` in place of a blocked one.
    """
    if isinstance(allowed_links, str):
        raise TwinError("allowed_links takes a collection of links, not one link; wrap it in a list.")
    verdicts = check_output(answer, system_prompt, config)
    verdicts += _injection(answer, "answer_injection", "output", config.answer_injection)
    if config.answer_links != "off":
        unknown = _unknown_links(answer, allowed_links)
        hosts = ", ".join(dict.fromkeys(re.split(r"[/?]", key, maxsplit=1)[0] for key in unknown))
        detail = f"{len(unknown)} not among the sources, on {hosts}" if unknown else None
        verdicts.append(_verdict("answer_links", "output", config.answer_links, detail))
    text, pii = _pii(answer, "answer_pii", "output", config.answer_pii)
    return TextCheck(text=text, verdicts=verdicts + pii)


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
