import random
import time

import pytest

from llm_engineering.domain.bootstrap import Interval, bootstrap_mean, bootstrap_paired_difference


def coin_flips(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [float(rng.random() < 0.6) for _ in range(n)]


def test_the_estimate_is_the_plain_mean_inside_its_interval() -> None:
    values = coin_flips(80)
    interval = bootstrap_mean(values)
    assert interval.estimate == pytest.approx(sum(values) / len(values))
    assert interval.low <= interval.estimate <= interval.high
    assert interval.n == 80


def test_the_interval_narrows_as_items_are_added() -> None:
    widths = [(i.high - i.low) for i in (bootstrap_mean(coin_flips(n)) for n in (20, 80, 320))]
    assert widths[0] > widths[1] > widths[2] > 0


def test_a_higher_confidence_gives_a_wider_interval() -> None:
    values = coin_flips(60)
    narrow, wide = bootstrap_mean(values, confidence=0.8), bootstrap_mean(values, confidence=0.99)
    assert wide.low <= narrow.low and narrow.high <= wide.high
    assert (wide.high - wide.low) > (narrow.high - narrow.low)


def test_the_same_seed_gives_the_same_interval_and_another_seed_may_not() -> None:
    values = coin_flips(50)
    assert bootstrap_mean(values, seed=3) == bootstrap_mean(values, seed=3)
    assert len({bootstrap_mean(values, seed=s).low for s in range(5)}) > 1


def test_one_value_or_constant_values_give_a_point_interval() -> None:
    assert bootstrap_mean([0.7]) == Interval(estimate=0.7, low=0.7, high=0.7, n=1)
    constant = bootstrap_mean([0.1] * 30)
    assert constant.low == constant.estimate == constant.high


def test_no_values_or_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        bootstrap_mean([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_mean([1.0, 2.0], resamples=0)


def test_paired_difference_has_the_sign_of_the_better_side() -> None:
    better = [1.0] * 40 + [0.0] * 10
    worse = [1.0] * 20 + [0.0] * 30
    assert bootstrap_paired_difference(better, worse).above_zero
    assert bootstrap_paired_difference(worse, better).below_zero
    assert bootstrap_paired_difference(better, worse).estimate == pytest.approx(0.4)


def test_a_paired_difference_of_equal_sides_does_not_exclude_zero() -> None:
    values = coin_flips(40)
    same = bootstrap_paired_difference(values, values)
    assert (same.low, same.estimate, same.high) == (0, 0, 0)
    assert not same.excludes_zero
    noisy = bootstrap_paired_difference(coin_flips(40, seed=1), coin_flips(40, seed=2))
    assert not noisy.excludes_zero


def test_pairing_makes_the_interval_narrower_than_the_sides_alone() -> None:
    rng = random.Random(0)
    difficulty = [rng.random() for _ in range(60)]
    a = [d + 0.05 for d in difficulty]
    paired = bootstrap_paired_difference(a, difficulty)
    alone = bootstrap_mean(a)
    assert paired.high - paired.low < (alone.high - alone.low) / 10


def test_paired_sides_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same items"):
        bootstrap_paired_difference([1.0, 0.0], [1.0])


def test_a_thousand_resamples_of_two_hundred_values_are_fast() -> None:
    values = coin_flips(200)
    start = time.perf_counter()
    bootstrap_mean(values, resamples=1000)
    assert time.perf_counter() - start < 0.5
