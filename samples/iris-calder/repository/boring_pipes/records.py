"""Reading source documents from JSON Lines files."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Record:
    """One source document: a stable id, its text and whatever metadata came with it."""

    id: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


class RecordError(ValueError):
    """A line of the input cannot become a Record."""


def read_records(path: Path) -> Iterator[Record]:
    """Yield one Record per non-empty line of a JSON Lines file.

    A line without an `id` or a `text` is an error, not something to skip: a
    silently shorter corpus is much harder to notice than a failed run.
    """
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not row.get("id") or not row.get("text"):
                raise RecordError(f"{path}:{number} needs both 'id' and 'text'")
            metadata = {key: str(value) for key, value in row.items() if key not in {"id", "text"}}
            yield Record(id=str(row["id"]), text=row["text"], metadata=metadata)
