"""Spotting the fences that open and close Markdown code blocks, which cleaning and splitting keep whole."""

import re

FENCE_OPENING = re.compile(r" {0,3}(?:(`{3,})[^`]*|(~{3,}).*)")


def fence_opening(line: str) -> str | None:
    """The fence (e.g. ```) that this line opens a fenced code block with, if it opens one."""
    match = FENCE_OPENING.fullmatch(line)
    return None if match is None else match.group(1) or match.group(2)


def fence_closes(line: str, fence: str) -> bool:
    """Whether this line closes the code block that `fence` opened."""
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3 and stripped.startswith(fence) and not stripped.strip(fence[0])
    )
