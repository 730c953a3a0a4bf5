"""Patterns for questions that try to override, reveal or replace the twin's instructions."""

import re

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
