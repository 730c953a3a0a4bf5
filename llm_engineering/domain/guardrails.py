"""Checks on questions to the twin and on its answers: injection, personal data, broken or leaky answers."""

import re
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import GuardrailAction, GuardrailStage, GuardrailVerdict

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


# --- prompt injection -------------------------------------------------------------------------------------
# Override and reveal phrasings count only in command position (start of a line or sentence, after a colon,
# or after "please", "you", "and" ...), so "why do LLMs ignore previous instructions?" is a question, not one.
_LEAD = r"(?:^|(?<=[.!?:;,(\[])|\b(?:please|now|just|and|then|so|also|to|must|should|will|you)\s+)\s*"
_SHOW = r"(?:reveal|print|show|repeat|output|display|leak|dump|recite|paste|(?:write|spell)\s+out|tell|give)"
_SHOW += r"\s+(?:me\s+|us\s+)?(?:all\s+(?:of\s+)?)?"
_SECRET = r"(?:initial|original|hidden|secret|full|exact|first|previous|entire|complete|above|system)"
_HIDDEN = r"(?:system|hidden|secret|initial|original|developer|above|preceding|prior)"
# A question about the user's own topic ("your instructions for beginners") is not a request for the prompt.
_NOT_A_TOPIC = r"\b(?!\s+(?:engineering|templates?|formats?|for|on|about|in)\b)"
_OVERRIDE = (
    r"(?:ignore|disregard|forget|override|bypass|discard)\s+(?:(?:all|any|every)\s+(?:of\s+)?)?"
    r"(?:(?:the|your|my|these|those|its)\s+)?(?:(?:previous|prior|above|earlier|preceding|foregoing|initial"
    r"|original|system|developer|safety|existing)\s+)*"
    r"(?:instructions?|prompts?|rules|directives|guidelines|commands|constraints|programming)\b"
)
_INJECTION_PATTERNS: dict[str, tuple[str, ...]] = {
    "override_instructions": (
        _LEAD + _OVERRIDE,
        _LEAD
        + r"forget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|(?:said\s+)?(?:above|before))",
    ),
    "reveal_prompt": (
        _LEAD + rf"(?:{_SHOW}|what\s+(?:is|are|was|were)\s+)your\s+(?:{_SECRET}\s+)*"
        rf"(?:prompt|instructions|system\s+message){_NOT_A_TOPIC}",
        _LEAD + rf"{_SHOW}the\s+(?:{_HIDDEN}\s+)+(?:prompt|instructions|message){_NOT_A_TOPIC}",
        _LEAD + r"repeat\s+(?:the\s+|all\s+)?(?:words|text|everything)\s+(?:above|before)",
    ),
    "persona_switch": (
        r"\b(?:you\s+are\s+(?:now\s+)?|act\s+as\s+|pretend\s+to\s+be\s+)(?:in\s+)?"
        r"(?:(?-i:DAN)\b|(?:developer|god|jailbreak|unrestricted|unfiltered)\s+mode)",
        r"\b(?:enable|activate|enter)\s+(?:(?-i:DAN)|jailbreak|god|unrestricted|unfiltered)\s+mode\b",
    ),
    "unrestricted_roleplay": (
        r"\b(?:act|behave|respond|answer|reply|roleplay)\s+(?:as|like)\b[^.!?\n]{0,60}?"
        r"\b(?:without|with\s+no|free\s+(?:of|from))\s+(?:any\s+)?"
        r"(?:restrictions|filters?|censorship|rules|guidelines|ethics|morals|limitations|content\s+polic)",
        r"\bpretend\s+(?:that\s+)?you\s+(?:have|had)\s+no\s+(?:rules|restrictions|guidelines|filters|ethics)",
    ),
    "role_tag": (
        r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|system|user|assistant)\|>",
        r"\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>|<\s*/?\s*system\s*>",
        r"^\s*#{2,}\s*(?:system|instructions?|assistant)\s*:",
    ),
}
_INJECTIONS = {
    name: re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE | re.MULTILINE)
    for name, patterns in _INJECTION_PATTERNS.items()
}


def find_injections(text: str) -> list[str]:
    """Names of the injection families found in `text`, e.g. ["override_instructions"]."""
    return [name for name, pattern in _INJECTIONS.items() if pattern.search(text)]


# --- personal data ----------------------------------------------------------------------------------------
def _luhn_valid(candidate: str) -> bool:
    """Payment card numbers end in a Luhn check digit; most random digit runs do not."""
    digits = [int(char) for char in candidate if char.isdigit()][::-1]
    doubled = [d * 2 - 9 if d * 2 > 9 else d * 2 for d in digits[1::2]]
    return (sum(digits[0::2]) + sum(doubled)) % 10 == 0


def _iban_valid(candidate: str) -> bool:
    """An IBAN, read from its fifth character round to its fourth in base 36, leaves 1 modulo 97."""
    compact = re.sub(r"\s", "", candidate).upper()
    return (
        15 <= len(compact) <= 34
        and int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1
    )


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _phone_like(candidate: str) -> bool:
    """7-15 digits written as a phone: with "+", "(area)", or 3+ groups that are not a date or 1 000 000."""
    groups = re.findall(r"\d+", candidate)
    if not 7 <= sum(map(len, groups)) <= 15:
        return False
    if candidate.startswith("+") or "(" in candidate:
        return True
    thousands = all(len(group) == 3 for group in groups[1:])
    return len(groups) >= 3 and not thousands and not _DATE.fullmatch(candidate)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# IBANs come compact or in groups of four; grouping keeps a following capitalised word out of the match.
_IBAN_BODY = r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)"
# Kind -> (pattern, validator). Order matters: an SSN or an IBAN would otherwise pass for a phone or a card.
# The email pattern starts only where a run of address characters starts, so long runs are not rescanned.
_DETECTORS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "email": (r"(?<![\w.%+-])[\w.%+-]+@[\w.-]+\.[^\W\d_]{2,}", None),
    "iban": (rf"(?<![A-Za-z0-9])[A-Z]{{2}}\d{{2}}{_IBAN_BODY}(?![A-Za-z0-9])", _iban_valid),
    "card": (r"(?<![\w-])[2-6](?:[ -]?\d){12,18}(?!\w|-\d)", _luhn_valid),
    "ssn": (r"(?<![\w-])(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])", None),
    "ip": (rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\w|\.\d)", None),
    "phone": (
        r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,5}(?!\w|[.-]\d)",
        _phone_like,
    ),
}
# Emails may use any script; digits elsewhere are ASCII only, so the validators can read them.
_PII = {
    kind: (re.compile(pattern, 0 if kind == "email" else re.ASCII), is_valid)
    for kind, (pattern, is_valid) in _DETECTORS.items()
}


def redact_pii(text: str) -> tuple[str, Counter[str]]:
    """Replace each email, phone, card, IBAN, IP or SSN with `[KIND]`; also count them by kind.

    Passes repeat until nothing changes, since hiding one item can expose another (a card inside a longer
    run of digits). It ends: every pass that changes the text removes digits or "@" and adds neither.
    """
    found: Counter[str] = Counter()
    while True:
        before = text
        for kind, (pattern, is_valid) in _PII.items():
            text = pattern.sub(partial(_replace, kind, is_valid, found), text)
        if text == before:
            return text, found


def _replace(
    kind: str, is_valid: Callable[[str], bool] | None, found: Counter[str], match: re.Match[str]
) -> str:
    """The `re.sub` callback: valid items become `[KIND]` and are counted, others stay."""
    if is_valid is not None and not is_valid(match.group()):
        return match.group()
    found[kind] += 1
    return f"[{kind.upper()}]"


# --- verdicts ---------------------------------------------------------------------------------------------
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
