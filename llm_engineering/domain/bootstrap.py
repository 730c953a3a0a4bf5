"""Bootstrap intervals: how far a mean over a few dozen evaluation items can be trusted.

Evaluation sets are small, so every metric carries a percentile-bootstrap interval and a gate
asks whether the interval of a difference excludes zero rather than whether one mean is larger.
"""

import math
import random
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field


class Interval(BaseModel):
    """A mean over `n` items and the bootstrap interval around it."""

    model_config = ConfigDict(frozen=True)

    estimate: float = Field(description="The mean over the items themselves.")
    low: float
    high: float
    n: int = Field(ge=1, description="How many items the mean is over.")

    @property
    def above_zero(self) -> bool:
        """The whole interval is above zero: a difference that favours the first side."""
        return self.low > 0

    @property
    def below_zero(self) -> bool:
        """The whole interval is below zero: a difference that favours the second side."""
        return self.high < 0

    @property
    def excludes_zero(self) -> bool:
        return self.above_zero or self.below_zero


def bootstrap_mean(
    values: Sequence[float], resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """The mean of `values` with a percentile-bootstrap interval; the same seed gives the same interval.

    >>> bootstrap_mean([0.0, 1.0, 1.0, 1.0]).estimate
    0.75
    """
    if not values:
        raise ValueError("Cannot bootstrap the mean of no values; score at least one item.")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"Need resamples >= 1 and 0 < confidence < 1, got {resamples} and {confidence}.")
    items = [float(value) for value in values]
    n = len(items)
    # fsum rounds exactly once, so constant values resample to exactly their own mean.
    estimate = math.fsum(items) / n
    if n == 1:
        return Interval(estimate=estimate, low=estimate, high=estimate, n=1)
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(items, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[min(resamples - 1, math.floor(tail * resamples))]
    high = means[max(0, math.ceil((1 - tail) * resamples) - 1)]
    return Interval(estimate=estimate, low=low, high=high, n=n)


def bootstrap_paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The mean of a[i] - b[i] over the same items, with its bootstrap interval.

    Resampling the pairs, not each side on its own, keeps what the items share (an easy question is easy
    for both models) out of the interval, which makes it much narrower than two separate intervals.

    >>> bootstrap_paired_difference([1.0, 1.0, 0.0], [0.0, 1.0, 0.0]).n
    3
    """
    if len(a) != len(b):
        raise ValueError(
            f"A paired difference needs the same items on both sides, got {len(a)} and {len(b)}."
        )
    return bootstrap_mean([x - y for x, y in zip(a, b, strict=True)], resamples, confidence, seed)
