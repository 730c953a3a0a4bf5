"""Filters that keep generated samples worth training on, and the split into train and test."""

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.datasets import Sample

S = TypeVar("S", bound=Sample)

# (texts, threshold, num_perm, shingle words, seed) -> indices of texts to drop, each a near-duplicate of
# an earlier text that is kept. The MinHash/LSH implementation lives in infrastructure.
NearDuplicateFinder = Callable[[list[str], float, int, int, int], set[int]]

# Refusals and self-references of chat models. Matched as whole words in LLM-written fields only, since an
# author who writes about LLMs may well say "language model" in their own text.
DEFAULT_BANNED_PHRASES = (
    "as an ai",
    "as a language model",
    "as a large language model",
    "i am a language model",
    "i'm a language model",
    "i am an ai",
    "i'm an ai",
    "i cannot",
    "i can't assist",
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "i don't have personal",
    "my knowledge cutoff",
    "my training data",
)

# Leftovers of the generation format in an LLM-written field: a JSON object or its keys, a label line,
# a JSON code fence, or chat-template tokens.
LEFTOVER_FORMAT = re.compile(
    r"^\s*\[?\s*\{"
    r'|"(?:instruction|question|prompt|answer|output|response|chosen|rejected)"\s*:'
    r"|^\W{0,3}(?:instruction|question|prompt|answer|output|response)\W{0,3}:"
    r"|```\s*json|<\|[\w-]+\|>|</?s>",
    re.IGNORECASE | re.MULTILINE,
)


class QualityConfig(BaseModel):
    """Thresholds of the rule filters, deduplication and decontamination of generated datasets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_instruction_words: int = Field(3, ge=1, description="Fewest words in an instruction or prompt.")
    max_instruction_words: int = Field(60, ge=1, description="Most words in an instruction or prompt.")
    min_output_words: int = Field(
        10, ge=1, description="Fewest words in an output, chosen or rejected answer."
    )
    max_output_words: int = Field(
        1000, ge=1, description="Most words in an output, chosen or rejected answer."
    )
    banned_phrases: tuple[str, ...] = Field(
        DEFAULT_BANNED_PHRASES,
        description="Phrases (case-insensitive, whole words) that disqualify an LLM-written field.",
    )
    near_duplicate_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity of word shingles that marks a near-duplicate.",
    )
    minhash_num_perm: int = Field(128, ge=16, description="MinHash permutations; more is slower, more exact.")
    shingle_words: int = Field(3, ge=1, description="Words per shingle compared by near-deduplication.")
    minhash_seed: int = Field(1, description="Seed of the MinHash permutations, for repeatable results.")
    decontamination_ngram: int = Field(
        8, ge=1, description="A train sample sharing a word n-gram this long with a test sample is dropped."
    )

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        for kind in ("instruction", "output"):
            low, high = getattr(self, f"min_{kind}_words"), getattr(self, f"max_{kind}_words")
            if low > high:
                raise ValueError(
                    f"min_{kind}_words={low} is above max_{kind}_words={high}; swap or widen them."
                )
        return self


class FilterReport(BaseModel):
    """How many samples each filter removed, in the order the filters ran."""

    model_config = ConfigDict(frozen=True)

    removed: dict[str, int] = Field(default_factory=dict)

    def add(self, name: str, count: int) -> "FilterReport":
        """This report with one more filter's count appended."""
        return FilterReport(removed={**self.removed, name: self.removed.get(name, 0) + count})

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def normalise_text(text: str) -> str:
    """Casefolded words without punctuation, one space apart: what two texts that say the same share.

    >>> normalise_text("  Feature  stores,\\n explained! ")
    'feature stores explained'
    """
    kept = "".join(char for char in text.casefold() if not unicodedata.category(char).startswith("P"))
    return " ".join(kept.split())


def word_ngrams(text: str, n: int) -> set[str]:
    """The runs of `n` consecutive words of a text, each joined by single spaces; none if it is shorter."""
    if n < 1:
        raise ValueError(f"An n-gram needs at least one word, not n={n}.")
    words = text.split()
    return {" ".join(words[index : index + n]) for index in range(len(words) - n + 1)}


def sample_text(sample: Sample) -> str:
    """Every text field of a sample, one after another: what deduplication compares by default."""
    return "\n".join(sample.texts().values())


def _word_count(text: str) -> int:
    return len(text.split())


def _right_length(sample: Sample, config: QualityConfig) -> bool:
    question = _word_count(sample.question())
    answers = [_word_count(text) for text in list(sample.texts().values())[1:]]
    return config.min_instruction_words <= question <= config.max_instruction_words and all(
        config.min_output_words <= words <= config.max_output_words for words in answers
    )


def _well_formed(sample: Sample, _: QualityConfig) -> bool:
    # Only LLM-written fields: the author's passage may hold code, JSON or "Answer:" legitimately.
    return not any(LEFTOVER_FORMAT.search(text) for text in sample.generated().values())


@lru_cache(maxsize=8)
def _banned_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(" ".join(phrase.casefold().split())) for phrase in phrases)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _no_banned_phrase(sample: Sample, config: QualityConfig) -> bool:
    if not config.banned_phrases:
        return True
    pattern = _banned_pattern(config.banned_phrases)
    # Curly apostrophes (U+2019) are folded to straight ones, so both spellings of "i'm sorry" match.
    texts = (" ".join(text.casefold().replace("\u2019", "'").split()) for text in sample.generated().values())
    return not any(pattern.search(text) for text in texts)


RULE_FILTERS: dict[str, Callable[[Sample, QualityConfig], bool]] = {
    "length": _right_length,
    "format": _well_formed,
    "banned_phrases": _no_banned_phrase,
}


def apply_rule_filters(samples: list[S], config: QualityConfig) -> tuple[list[S], FilterReport]:
    """Samples passing every rule filter; a removed sample is counted under the first filter it fails."""
    removed = dict.fromkeys(RULE_FILTERS, 0)
    kept: list[S] = []
    for sample in samples:
        failed = next((name for name, passes in RULE_FILTERS.items() if not passes(sample, config)), None)
        if failed is None:
            kept.append(sample)
        else:
            removed[failed] += 1
    return kept, FilterReport(removed=removed)


def deduplicate(
    samples: list[S],
    config: QualityConfig,
    near_duplicates: NearDuplicateFinder,
    key: Callable[[S], str] = sample_text,
) -> tuple[list[S], int, int]:
    """Samples without exact, then near duplicates of `key(sample)`, the first of each kept, order unchanged.

    Exact duplicates compare normalised text (casefolded, punctuation stripped, whitespace collapsed);
    `near_duplicates` finds the rest (MinHash + LSH in infrastructure). Returns the samples kept and how
    many each stage removed.
    """
    seen: set[str] = set()
    unique: list[S] = []
    for sample in samples:
        normalised = normalise_text(key(sample))
        if normalised not in seen:
            seen.add(normalised)
            unique.append(sample)
    # Several questions may be asked of one passage: those samples are one group, compared with others by
    # their first sample only, so that sharing a passage never makes them near duplicates of each other.
    first_of: dict[str, S] = {}
    for sample in unique:
        first_of.setdefault(normalise_text(sample.passage()), sample)
    representatives = list(first_of.values())
    drop = near_duplicates(
        [key(sample) for sample in representatives],
        config.near_duplicate_threshold,
        config.minhash_num_perm,
        config.shingle_words,
        config.minhash_seed,
    )
    if not drop <= set(range(len(representatives))):
        raise ValueError(
            f"near_duplicates returned indices {sorted(drop)} outside 0..{len(representatives) - 1}."
        )
    dropped = {normalise_text(representatives[index].passage()) for index in drop}
    kept = [sample for sample in unique if normalise_text(sample.passage()) not in dropped]
    return kept, len(samples) - len(unique), len(unique) - len(kept)
