"""Stylometric profiles: how a set of texts writes, in numbers a person can read and compare.

A profile is deliberately interpretable (sentence length, word length, vocabulary richness,
punctuation habits, function words) so that a style gap can be explained, not just scored.
"""

import math
import re
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

# Topic-independent words whose rates mark a writer's habits; lowercase, single tokens, no repeats.
FUNCTION_WORDS = (
    # articles and determiners
    "a", "an", "the", "this", "that", "these", "those", "all", "any", "each", "every", "some", "no",
    "such", "more", "most",
    # pronouns
    "i", "me", "my", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its",
    "they", "them", "their", "who", "whom", "which", "what", "one", "myself", "itself",
    # prepositions
    "of", "in", "on", "at", "by", "for", "with", "about", "against", "between", "into", "through",
    "during", "before", "after", "above", "below", "to", "from", "up", "down", "out", "over", "under",
    "than", "as", "like", "without", "within", "across", "per",
    # conjunctions
    "and", "but", "or", "nor", "so", "yet", "if", "because", "while", "although", "though", "when",
    "where", "whether", "unless", "until", "since", "then",
    # auxiliaries and modals
    "is", "are", "was", "were", "be", "been", "being", "am", "have", "has", "had", "do", "does", "did",
    "will", "would", "shall", "should", "can", "could", "may", "might", "must",
    # adverbs and particles
    "not", "there", "here", "very", "just", "only", "also", "even", "again",
)  # fmt: skip

FUNCTION_WORD_SET = frozenset(FUNCTION_WORDS)

# Counted per 100 words. Straight and curly double quotes count; single quotes are left out because
# they are mostly apostrophes.
PUNCTUATION = {
    "comma": ",",
    "semicolon": ";",
    "colon": ":",
    "exclamation": "!",
    "question": "?",
    "parenthesis": "(",
    "dash": "\u2014\u2013",  # em and en dash
    "hyphen": "-",
    "quote": '"\u201c\u201d\u00ab\u00bb',
}
MATTR_WINDOW = 50
SHAPE_LABELS = {
    "mean_sentence_length": "mean sentence length (words)",
    "sentence_length_sd": "sentence length spread (words)",
    "mean_word_length": "mean word length (letters)",
    "type_token_ratio": "vocabulary richness (moving type-token ratio)",
}
EPSILON = 1e-9

# Letters only, with inner apostrophes (straight or curly): "don't" is one word, "512" none.
WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
LETTERS = re.compile(r"[^\W\d_]+")
DIGIT = re.compile(r"\d")
# A run of end marks (closing quotes and brackets included) before a space, or a blank line.
SENTENCE_END = re.compile(r"[.!?\u2026]+[\"\u201d\u2019)\]]*(?:\s+|$)|\n\s*\n")


class StyleProfile(BaseModel):
    """How a set of texts writes: sentence and word shape, vocabulary, punctuation and function words."""

    model_config = ConfigDict(frozen=True)

    mean_sentence_length: float
    sentence_length_sd: float
    mean_word_length: float
    type_token_ratio: float
    punctuation: dict[str, float]
    """Occurrences per 100 words, by the names of PUNCTUATION."""
    function_words: dict[str, float]
    """Share of all words that are each of FUNCTION_WORDS."""
    words: int

    def feature_groups(self) -> dict[str, dict[str, float]]:
        """The features by group (shape, punctuation, function words), each keyed by a readable name."""
        return {
            "shape": {name: getattr(self, name) for name in SHAPE_LABELS},
            "punctuation": {
                f"'{PUNCTUATION[name][0]}' per 100 words": v for name, v in self.punctuation.items()
            },
            "function_words": {f"share of '{word}'": v for word, v in self.function_words.items()},
        }

    def features(self) -> dict[str, float]:
        """Every feature in one flat mapping, as named in `feature_groups`."""
        return {name: value for group in self.feature_groups().values() for name, value in group.items()}


def profile(texts: Sequence[str]) -> StyleProfile:
    """The style profile of `texts` taken together.

    >>> profile(["I ship it. Then I sleep!"]).mean_sentence_length
    3.0
    """
    sentences = [_words(s) for text in texts for s in SENTENCE_END.split(text)]
    lengths = [len(words) for words in sentences if words]
    words = [word.lower() for sentence in sentences for word in sentence]
    if not words:
        raise ValueError("Cannot profile texts without a single word; pass at least one text with prose.")
    mean_length = sum(lengths) / len(lengths)
    counts = Counter(words)
    characters = "".join(texts)
    return StyleProfile(
        mean_sentence_length=mean_length,
        sentence_length_sd=math.sqrt(sum((n - mean_length) ** 2 for n in lengths) / len(lengths)),
        mean_word_length=sum(len(word) for word in words) / len(words),
        type_token_ratio=moving_type_token_ratio(words),
        punctuation={
            name: 100 * sum(characters.count(mark) for mark in marks) / len(words)
            for name, marks in PUNCTUATION.items()
        },
        function_words={word: counts[word] / len(words) for word in FUNCTION_WORDS},
        words=len(words),
    )


def mask_content_words(text: str) -> str:
    """`text` with every letter of a word outside FUNCTION_WORDS turned into "*" and every digit into "#".

    Stamatatos's text distortion: what is left (function words, punctuation, word and sentence lengths,
    spacing) is how the text is written, with its topic masked out.

    >>> mask_content_words("Then I cut 512 tokens, and didn't look back!")
    "Then I *** ### ******, and ****'* **** ****!"
    """
    kept = LETTERS.sub(
        lambda word: word[0] if word[0].lower() in FUNCTION_WORD_SET else "*" * len(word[0]), text
    )
    return DIGIT.sub("#", kept)


def moving_type_token_ratio(words: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Mean share of distinct words over every `window`-word stretch (plain type-token ratio if shorter).

    Unlike the plain ratio it does not fall as texts get longer, so corpora of different sizes compare.

    >>> moving_type_token_ratio(["a", "b", "a", "c"], window=2)
    1.0
    """
    if len(words) <= window:
        return len(set(words)) / len(words)
    seen = Counter(words[:window])
    total = len(seen)
    for leaving, entering in zip(words, words[window:], strict=False):
        seen[leaving] -= 1
        if not seen[leaving]:
            del seen[leaving]
        seen[entering] += 1
        total += len(seen)
    return total / (len(words) - window + 1) / window


def feature_differences(a: StyleProfile, b: StyleProfile) -> dict[str, float]:
    """Each feature's part of `profile_distance(a, b)`, largest first; the parts sum to the distance.

    A feature's part is its bounded relative difference |x-y| / (|x|+|y|) divided by the number of
    features in its group and by the number of groups, so the top names say where the gap comes from.
    """
    groups_a, groups_b = a.feature_groups(), b.feature_groups()
    parts = {
        name: _relative_difference(x, groups_b[group][name]) / len(features) / len(groups_a)
        for group, features in groups_a.items()
        for name, x in features.items()
    }
    return dict(sorted(parts.items(), key=lambda item: item[1], reverse=True))


def profile_distance(a: StyleProfile, b: StyleProfile) -> float:
    """How differently two profiles write: 0 for identical profiles, at most 1.

    distance = mean over the three groups (shape, punctuation, function words) of the mean over the
    group's features of |a-b| / (|a|+|b|); each group weighs a third, so a hundred function words do
    not drown four shape features. A feature absent from both sides adds 0.

    >>> p = profile(["Short one. Another short one."])
    >>> profile_distance(p, p)
    0.0
    """
    return min(1.0, sum(feature_differences(a, b).values()))


def describe_differences(a: StyleProfile, b: StyleProfile, top: int = 3) -> list[str]:
    """The `top` largest gaps in words, such as "mean sentence length (words) 24.1 vs 11.3"."""
    values_a, values_b = a.features(), b.features()
    return [
        f"{SHAPE_LABELS.get(name, name)} {values_a[name]:.3g} vs {values_b[name]:.3g}"
        for name in list(feature_differences(a, b))[:top]
    ]


def _words(text: str) -> list[str]:
    return WORD.findall(text)


def _relative_difference(x: float, y: float) -> float:
    return abs(x - y) / (abs(x) + abs(y) + EPSILON)
