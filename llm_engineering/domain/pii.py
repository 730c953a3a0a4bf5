"""Finding and redacting personal data in text: emails, phones, cards, IBANs, IP addresses, SSNs."""

import re
from collections import Counter
from collections.abc import Callable
from functools import partial


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
