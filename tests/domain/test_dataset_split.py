import random
from collections import Counter

import pytest

from llm_engineering.domain.dataset_split import decontaminate, split
from llm_engineering.domain.datasets import InstructSample, PreferenceSample
from llm_engineering.domain.documents import DataCategory


def sample(index: int, category: str = "articles", output: str | None = None) -> InstructSample:
    return InstructSample(
        instruction=f"Explain topic number {index} in detail.",
        output=output or f"Passage {index} talks about its own topic number {index}.",
        category=DataCategory(category),
        source_link=f"https://x.io/{category}/{index}",
    )


def pair(prompt: str, chosen: str, rejected: str) -> PreferenceSample:
    return PreferenceSample(
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        category=DataCategory.POSTS,
        source_link="https://x.io",
    )


# --- decontamination --------------------------------------------------------------------------------

LEAKED = "the warehouse keeps every document under its own link"  # 10 words


def test_train_sample_sharing_an_ngram_with_test_is_dropped() -> None:
    test = [sample(0, output=f"In short, {LEAKED.upper()}!")]
    leaked = sample(1, output=f"As I wrote before: {LEAKED}, which matters.")
    clean = sample(2)
    kept, removed = decontaminate([leaked, clean], test, n=8)
    assert (kept, removed) == ([clean], 1)


def test_overlap_shorter_than_n_is_kept_and_n_is_respected() -> None:
    test = [sample(0, output=f"Remember: {LEAKED}.")]
    seven = sample(1, output="So the warehouse keeps every document under its roof, mostly.")
    assert decontaminate([seven], test, n=8) == ([seven], 0)
    assert decontaminate([seven], test, n=7) == ([], 1)


def test_overlap_in_the_instruction_counts_too() -> None:
    test = [sample(0)]
    asks_the_same = InstructSample(
        instruction="Please explain topic number 0 in detail.",
        output="An unrelated passage about feature stores.",
        category=DataCategory.POSTS,
        source_link="https://x.io/other",
    )
    assert decontaminate([asks_the_same], test, n=5) == ([], 1)
    assert decontaminate([asks_the_same], test, n=8) == ([asks_the_same], 0)


def test_generic_rejected_answers_do_not_count_as_contamination() -> None:
    stock = "there are many factors to consider when you design a data pipeline for production"
    test = [pair("How should the crawler handle retries?", "With backoff, always, in my setup.", stock)]
    train = [pair("What did you learn about embeddings?", "That smaller models win more often.", stock)]
    assert decontaminate(train, test, n=8) == (train, 0)
    assert decontaminate(train, [], n=8) == (train, 0)


# --- split ------------------------------------------------------------------------------------------


def corpus() -> list[InstructSample]:
    return (
        [sample(index, "articles") for index in range(20)]
        + [sample(index, "posts") for index in range(10)]
        + [sample(index, "repositories") for index in range(1)]
    )


def test_split_is_a_partition_and_the_same_for_any_input_order() -> None:
    samples = corpus()
    train, test = split(samples, test_size=0.2, seed=7)
    assert sorted(map(repr, train + test)) == sorted(map(repr, samples))
    for shuffle_seed in range(3):
        shuffled = samples[:]
        random.Random(shuffle_seed).shuffle(shuffled)
        assert split(shuffled, test_size=0.2, seed=7) == (train, test)


def test_a_different_seed_gives_a_different_split() -> None:
    first = split(corpus(), test_size=0.2, seed=1)[1]
    second = split(corpus(), test_size=0.2, seed=2)[1]
    assert set(map(repr, first)) != set(map(repr, second))


def test_split_is_stratified_by_category() -> None:
    train, test = split(corpus(), test_size=0.2, seed=3)
    assert Counter(s.category.value for s in test) == {"articles": 4, "posts": 2}
    assert Counter(s.category.value for s in train) == {"articles": 16, "posts": 8, "repositories": 1}


def test_each_category_keeps_a_train_sample() -> None:
    samples = [sample(0, "posts"), sample(1, "posts"), sample(2, "articles"), sample(3, "articles")]
    train, test = split(samples, test_size=0.9, seed=0)
    assert Counter(s.category.value for s in train) == {"posts": 1, "articles": 1}
    assert len(test) == 2


@pytest.mark.parametrize(
    "samples",
    [[sample(0), sample(1)], [sample(0, "posts"), sample(1, "articles")], [sample(i) for i in range(4)]],
    ids=["two of a category", "two singletons", "rounds to zero"],
)
def test_a_positive_test_size_gives_at_least_one_test_sample(samples: list[InstructSample]) -> None:
    train, test = split(samples, test_size=0.05, seed=0)
    assert (len(train), len(test)) == (len(samples) - 1, 1)


def test_no_test_split_when_asked_for_none_or_when_there_is_one_sample() -> None:
    samples = corpus()
    train, test = split(samples, test_size=0.0, seed=0)
    assert (sorted(map(repr, train)), test) == (sorted(map(repr, samples)), [])
    assert split([sample(0)], test_size=0.5, seed=0) == ([sample(0)], [])
    assert split([], test_size=0.5, seed=0) == ([], [])


@pytest.mark.parametrize("test_size", [-0.1, 1.0, 1.5])
def test_test_size_outside_zero_to_one_is_refused(test_size: float) -> None:
    with pytest.raises(ValueError, match=r"test_size must be in \[0, 1\)"):
        split(corpus(), test_size=test_size, seed=0)


def test_questions_about_one_passage_stay_on_one_side_of_the_split() -> None:
    samples = [
        InstructSample(
            instruction=f"{start} does passage {n} matter?",
            output=f"Passage {n} is the author's text about topic {n}.",
            category=DataCategory.ARTICLES,
            source_link=f"https://iris.dev/{n}",
        )
        for n in range(10)
        for start in ("How", "Why", "What")
    ]
    train, test = split(samples, 0.2, seed=3)
    assert len(train) + len(test) == 30 and test
    assert not {s.output for s in train} & {s.output for s in test}
    assert all(len([s for s in test if s.output == t.output]) == 3 for t in test)
