"""The objects an LLM answer spells as JSON or as a Python dict, found inside the prose around them."""

import ast
import json
import re
from collections.abc import Iterator

TRAILING_COMMA = re.compile(r",\s*([}\]])")
LOADERS = (json.loads, lambda text: json.loads(TRAILING_COMMA.sub(r"\1", text)), ast.literal_eval)


def _literal(candidate: str) -> dict[object, object] | None:
    """The object the text spells as JSON or as a Python dict (single quotes, trailing commas), if any."""
    for load in LOADERS:
        try:
            value = load(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue  # not this notation: try the next
        return value if isinstance(value, dict) else None
    return None


def find_literals(text: str) -> Iterator[dict[object, object]]:
    """Every object in the text, prose and code fences around it ignored, each from its opening brace."""
    closes = [match.end() for match in re.finditer(r"\}", text)]
    for start in (match.start() for match in re.finditer(r"\{", text)):
        # The shortest span that parses: a brace inside a string or a nested object needs a later close.
        spans = (_literal(text[start:end]) for end in closes if end > start)
        found = next((literal for literal in spans if literal is not None), None)
        if found is not None:
            yield found
