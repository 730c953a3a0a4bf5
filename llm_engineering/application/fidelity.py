"""Style fidelity: how often a model's answers read as the author's, measured without an LLM judge.

A verifier learns to tell the author's held-out passages from what the base model writes for the same
held-out instructions and, where given, from impostors: writing by other people. Author and base items
are scored by K-fold cross-fitting: each fold is scored by a verifier fitted on the other folds, so no
item is scored by a verifier that saw it. The author's cross-fitted share attributed is the ceiling a
perfect twin would reach, the base model's share the reference a twin must beat. Contestants
("candidate", "production", …) are not used in fitting; a verifier fitted on every author, base and
impostor text scores them. Each label also gets a stylometric distance to the author, which says in
readable terms where a gap comes from.

Impostors make the verifier learn what sets the author apart from other writers, not only from the
base model; without them "attributed" means "not the base model's voice" (see measure_style_fidelity).
A text is attributed at a probability of CUT_OFF, so the verifier's probabilities must hold for texts
it never saw (calibrated on held-out folds), or the author's own unseen writing falls short of it.
"""

import random
import re
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.ports import AuthorshipVerifier
from llm_engineering.domain.bootstrap import Interval, bootstrap_mean, bootstrap_paired_difference
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.stylometry import StyleProfile, feature_differences, profile, profile_distance

AUTHOR, BASE = "author", "base"
CUT_OFF = 0.5
"""A text is attributed to the author when the verifier's probability is at least this."""
MIN_TEXTS = 4
GAPS_KEPT = 5
BLANK_LINE = re.compile(r"\n\s*\n")


class LabelFidelity(BaseModel):
    """How one label's texts scored: per-item author probabilities, the share attributed, the distance."""

    model_config = ConfigDict(frozen=True)

    probabilities: list[float] = Field(description="Per item, the verifier's probability of the author.")
    attributed: list[float] = Field(description="Per item, 1.0 where that probability is at least CUT_OFF.")
    mean_probability: float
    share: Interval = Field(description="Share of items attributed to the author, with its interval.")
    profile_distance: float = Field(
        description="Stylometric distance to the author's profile; for the author, between her own folds."
    )
    largest_gaps: dict[str, float] = Field(description="The features adding most to that distance.")
    cross_fitted: bool = Field(description="Scored fold by fold (author, base) rather than held out.")


class StyleFidelity(BaseModel):
    """Style fidelity of every label: the author (ceiling), the base model (reference) and contestants."""

    model_config = ConfigDict(frozen=True)

    labels: dict[str, LabelFidelity]
    folds: int
    seed: int
    impostors: int = Field(description="Texts by other writers among the negatives of every fit; 0: none.")

    def share_difference(self, label: str, reference: str, resamples: int = 1000) -> Interval:
        """The paired difference in share attributed between two labels answering the same items."""
        return bootstrap_paired_difference(
            self.labels[label].attributed, self.labels[reference].attributed, resamples, seed=self.seed
        )


def measure_style_fidelity(
    verifier: AuthorshipVerifier,
    author_texts: Sequence[str],
    base_texts: Sequence[str],
    contestants: Mapping[str, Sequence[str]],
    folds: int = 5,
    seed: int = 0,
    impostor_texts: Sequence[str] = (),
) -> StyleFidelity:
    """Score the author, the base model and each contestant with `verifier` (see the module docstring).

    Folds are drawn from `seed`; with fewer items than `folds`, as many folds as the smaller side has
    items are used. When both sides have the same length, item i of each (taken to answer the same
    instruction) lands in the same fold, so an instruction's topic never leaks from fitting into scoring.

    `impostor_texts` is writing by other people: in practice the other authors' documents in the
    warehouse (`DocumentStore.iter_documents` for each other user), cut with `paragraphs` like the
    author's. They join the base texts as negatives in every fit and are never scored. Without them a
    high share says only "not the base model's voice", not "the author's voice": any human writer
    unlike the base model is attributed to the author. They also make the author's own held-out
    paragraphs less certain, so compare contestants with the author's cross-fitted ceiling, not with 1.
    """
    _check_inputs(author_texts, base_texts, impostor_texts, contestants, folds)
    k = min(folds, len(author_texts), len(base_texts))
    author_folds, base_folds = _fold_of(len(author_texts), k, seed), _fold_of(len(base_texts), k, seed)
    author_scores, base_scores = [0.0] * len(author_texts), [0.0] * len(base_texts)
    impostors = list(impostor_texts)
    for fold in range(k):
        fitted = verifier.fit(
            _outside(author_texts, author_folds, fold), _outside(base_texts, base_folds, fold) + impostors
        )
        _score_fold(fitted, author_texts, author_folds, fold, author_scores)
        _score_fold(fitted, base_texts, base_folds, fold, base_scores)
    author_profile = profile(author_texts)
    labels = {
        AUTHOR: _label(author_scores, *_self_distance(author_texts, author_folds, k), True, seed),
        BASE: _label(base_scores, *_distance(base_texts, author_profile), True, seed),
    }
    full = verifier.fit(author_texts, [*base_texts, *impostors])
    for name, texts in contestants.items():
        labels[name] = _label(full.author_probability(texts), *_distance(texts, author_profile), False, seed)
    return StyleFidelity(labels=labels, folds=k, seed=seed, impostors=len(impostors))


def paragraphs(texts: Sequence[str], min_words: int = 25) -> list[str]:
    """The paragraphs of `texts` (split on blank lines, whitespace collapsed) of at least `min_words` words.

    >>> paragraphs(["one two\\n\\n  three\\nfour five  "], min_words=3)
    ['three four five']
    """
    found = [" ".join(block.split()) for text in texts for block in BLANK_LINE.split(text)]
    return [paragraph for paragraph in found if len(paragraph.split()) >= min_words]


def _check_inputs(
    author_texts: Sequence[str],
    base_texts: Sequence[str],
    impostor_texts: Sequence[str],
    contestants: Mapping[str, Sequence[str]],
    folds: int,
) -> None:
    if len(author_texts) < MIN_TEXTS or len(base_texts) < MIN_TEXTS:
        raise TwinError(
            f"Style fidelity needs at least {MIN_TEXTS} author and {MIN_TEXTS} base-model texts to "
            f"cross-fit, got {len(author_texts)} and {len(base_texts)}; hold out more passages."
        )
    if folds < 2:
        raise TwinError(f"Cross-fitting needs at least 2 folds, got {folds}.")
    if not set(impostor_texts).isdisjoint(author_texts):
        raise TwinError("An impostor text is also among the author's texts; impostors are other people's.")
    for name, texts in contestants.items():
        if name in (AUTHOR, BASE):
            raise TwinError(f"The contestant label {name!r} is reserved; name the model otherwise.")
        if not texts:
            raise TwinError(f"The contestant {name!r} has no texts to score.")


def _fold_of(n: int, k: int, seed: int) -> list[int]:
    """A fold number per item, balanced (sizes differ by at most one) and shuffled by `seed`."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    folds = [0] * n
    for position, item in enumerate(order):
        folds[item] = position % k
    return folds


def _score_fold(
    fitted: AuthorshipVerifier, texts: Sequence[str], folds: Sequence[int], fold: int, scores: list[float]
) -> None:
    """Write the probabilities of the items in `fold` into their places in `scores`."""
    inside = [i for i, f in enumerate(folds) if f == fold]
    for i, probability in zip(inside, fitted.author_probability([texts[i] for i in inside]), strict=True):
        scores[i] = probability


def _outside(texts: Sequence[str], folds: Sequence[int], fold: int) -> list[str]:
    return [text for text, f in zip(texts, folds, strict=True) if f != fold]


def _distance(texts: Sequence[str], author_profile: StyleProfile) -> tuple[float, dict[str, float]]:
    own = profile(texts)
    return profile_distance(own, author_profile), _top(feature_differences(own, author_profile))


def _self_distance(texts: Sequence[str], folds: Sequence[int], k: int) -> tuple[float, dict[str, float]]:
    """How far each of the author's folds is from the rest of her texts, averaged over the folds.

    A contestant cannot be expected to come closer to the author than she is to herself.
    """
    distances: list[float] = []
    gaps: dict[str, float] = {}
    for fold in range(k):
        inside = profile([text for text, f in zip(texts, folds, strict=True) if f == fold])
        rest = profile(_outside(texts, folds, fold))
        distances.append(profile_distance(inside, rest))
        for name, part in feature_differences(inside, rest).items():
            gaps[name] = gaps.get(name, 0.0) + part / k
    return sum(distances) / k, _top(dict(sorted(gaps.items(), key=lambda item: item[1], reverse=True)))


def _top(gaps: dict[str, float]) -> dict[str, float]:
    return dict(list(gaps.items())[:GAPS_KEPT])


def _label(
    probabilities: Sequence[float], distance: float, gaps: dict[str, float], cross_fitted: bool, seed: int
) -> LabelFidelity:
    attributed = [1.0 if p >= CUT_OFF else 0.0 for p in probabilities]
    return LabelFidelity(
        probabilities=list(probabilities),
        attributed=attributed,
        mean_probability=sum(probabilities) / len(probabilities),
        share=bootstrap_mean(attributed, seed=seed),
        profile_distance=distance,
        largest_gaps=gaps,
        cross_fitted=cross_fitted,
    )
