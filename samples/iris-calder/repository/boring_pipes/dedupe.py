"""Dropping documents that say the same thing twice."""

import hashlib
from collections.abc import Iterable, Iterator

from boring_pipes.cleaning import clean_text
from boring_pipes.records import Record


def content_hash(text: str) -> str:
    """A hash of the cleaned, lower-cased text, so trivial edits still count as duplicates."""
    return hashlib.sha256(clean_text(text).lower().encode("utf-8")).hexdigest()


def drop_duplicates(records: Iterable[Record]) -> Iterator[Record]:
    """Yield each record whose content has not been seen yet, keeping the first of every group."""
    seen: set[str] = set()
    for record in records:
        digest = content_hash(record.text)
        if digest in seen:
            continue
        seen.add(digest)
        yield record
