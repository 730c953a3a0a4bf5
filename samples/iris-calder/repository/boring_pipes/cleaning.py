"""Text cleaning that keeps meaning and drops noise."""

import re
import unicodedata

# Lines that scrapers pick up from page chrome rather than from the article itself.
BOILERPLATE = re.compile(
    r"^(accept (all )?cookies|subscribe to (our|my) newsletter|share this (post|article)|"
    r"sign up for free|click here to read more)\b",
    re.IGNORECASE,
)


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces and tabs, trim each line, and keep at most one blank line in a row."""
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    collapsed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return collapsed.strip()


def drop_boilerplate(text: str) -> str:
    """Remove whole lines that are page furniture, such as cookie banners."""
    return "\n".join(line for line in text.splitlines() if not BOILERPLATE.match(line.strip()))


def clean_text(text: str) -> str:
    """NFC-normalise, drop boilerplate lines, then tidy whitespace."""
    return normalize_whitespace(drop_boilerplate(unicodedata.normalize("NFC", text)))
