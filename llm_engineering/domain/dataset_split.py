"""Splitting samples into train and test, and keeping test text out of train."""

import random
from typing import TypeVar

from llm_engineering.domain.dataset_quality import normalise_text, word_ngrams
from llm_engineering.domain.datasets import Sample

S = TypeVar("S", bound=Sample)


def _ngrams(sample: Sample, n: int) -> set[str]:
    # The question and the author's passage are what a test measures; a generic rejected answer is left
    # out, since stock phrases shared by two of them say nothing about leaked test content.
    return word_ngrams(normalise_text(sample.question()), n) | word_ngrams(
        normalise_text(sample.passage()), n
    )


def decontaminate(train: list[S], test: list[S], n: int) -> tuple[list[S], int]:
    """Train samples sharing no word n-gram of question or passage with a test sample; and the count dropped.

    Words are compared normalised (casefolded, punctuation stripped); a text shorter than `n` words has no
    n-grams, so only exact deduplication catches it.
    """
    test_ngrams: set[str] = set()
    for sample in test:
        test_ngrams |= _ngrams(sample, n)
    kept = [sample for sample in train if test_ngrams.isdisjoint(_ngrams(sample, n))]
    return kept, len(train) - len(kept)


def _stable_key(sample: Sample) -> tuple[str, ...]:
    return (sample.category.value, sample.source_link, *sample.texts().values())


def split(samples: list[S], test_size: float, seed: int) -> tuple[list[S], list[S]]:
    """Seeded train and test samples, stratified by category, the same for any order of `samples`.

    Each category with at least two samples is split on its own, keeping at least one of them for train;
    categories with one sample are pooled and split together. The samples of one passage go to one side.
    When `test_size` > 0 and there are at least two samples, test gets at least one, taken from the
    largest stratum.
    """
    if not 0 <= test_size < 1:
        raise ValueError(f"test_size must be in [0, 1), got {test_size}; 0.1 keeps a tenth for testing.")
    rng = random.Random(seed)
    groups: dict[str, list[S]] = {}
    for sample in sorted(samples, key=_stable_key):
        groups.setdefault(sample.category.value, []).append(sample)
    strata = [group for group in groups.values() if len(group) > 1]
    singles = [sample for group in groups.values() if len(group) == 1 for sample in group]
    strata += [singles] if singles else []
    parts: list[tuple[list[S], list[S]]] = []
    for stratum in strata:
        # Questions asked of one passage stay together, so the test split never holds a passage the model
        # was trained on.
        by_passage: dict[str, list[S]] = {}
        for sample in stratum:
            by_passage.setdefault(normalise_text(sample.passage()), []).append(sample)
        passages = list(by_passage.values())
        rng.shuffle(passages)
        size = min(int(test_size * len(stratum) + 0.5), len(stratum) - len(passages[-1]))
        test_part: list[S] = []
        while passages[:-1] and len(test_part) + len(passages[0]) <= size:
            test_part += passages.pop(0)
        parts.append(([sample for group in passages for sample in group], test_part))
    if test_size > 0 and len(samples) > 1 and not any(test for _, test in parts):
        train, test = max(parts, key=lambda part: len(part[0]))
        moved = normalise_text(train[-1].passage())
        staying = [sample for sample in train if normalise_text(sample.passage()) != moved]
        if staying:  # a whole passage moves; with a single passage in train, one sample does
            test += [sample for sample in train if normalise_text(sample.passage()) == moved]
            train[:] = staying
        else:
            test.append(train.pop())
    train = [sample for part, _ in parts for sample in part]
    test = [sample for _, part in parts for sample in part]
    # Mixed, so a trainer that reads in order does not see one category after another.
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test
