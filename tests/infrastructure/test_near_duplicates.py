import random

import pytest

from llm_engineering.domain.dataset_quality import QualityConfig, deduplicate
from llm_engineering.domain.datasets import InstructSample
from llm_engineering.domain.documents import DataCategory
from llm_engineering.infrastructure.near_duplicates import near_duplicate_indices

VOCABULARY = [f"w{index}" for index in range(500)]


def text(seed: int, words: int = 120) -> str:
    return " ".join(random.Random(seed).choices(VOCABULARY, k=words))


def paraphrase(original: str, every: int) -> str:
    """The text with every `every`-th word replaced: most word 3-grams survive."""
    words = original.split()
    return " ".join("edited" if index % every == every - 1 else word for index, word in enumerate(words))


def find(texts: list[str], threshold: float = 0.8, seed: int = 1) -> set[int]:
    return near_duplicate_indices(texts, threshold=threshold, num_perm=128, shingle=3, seed=seed)


def test_a_close_paraphrase_is_found_and_its_original_kept() -> None:
    original = text(0)
    # One word in 40 replaced changes 3 in 40 shingles: Jaccard about 37/43, above 0.8.
    close = paraphrase(original, 40)
    assert find([original, text(1), close.upper() + "!", text(2)]) == {2}


def test_the_threshold_separates_close_from_loose_paraphrases() -> None:
    original = text(3)
    loose = paraphrase(original, 10)  # 3 shingles in 10 changed: Jaccard about 0.55
    assert find([original, loose]) == set()
    assert find([original, loose], threshold=0.4) == {1}
    assert find([original, paraphrase(original, 40)], threshold=0.97) == set()


def test_distinct_texts_and_texts_without_words_are_kept() -> None:
    texts = [text(seed) for seed in range(30)] + ["", " ...", "short one", "short two"]
    assert find(texts) == set()


def test_each_later_copy_is_reported_and_results_are_repeatable() -> None:
    texts = [text(seed % 4) for seed in range(12)]
    expected = set(range(4, 12))
    assert find(texts) == expected
    assert find(texts, seed=5) == expected
    assert all(find(texts) == expected for _ in range(2))


def test_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        find(["a b c"], threshold=0)


def test_deduplicate_with_minhash_keeps_the_first_of_each_cluster() -> None:
    samples = [
        InstructSample(
            instruction=f"Explain part {index % 3}.",
            output=paraphrase(text(index % 3), 50) if index >= 3 else text(index),
            category=DataCategory.ARTICLES,
            source_link=f"https://x.io/{index}",
        )
        for index in range(9)
    ]
    kept, exact, near = deduplicate(samples, QualityConfig(), near_duplicate_indices)
    # 3..5 paraphrase 0..2 and 6..8 copy 3..5: copies go first, as exact, then paraphrases, as near.
    assert (kept, exact, near) == (samples[:3], 3, 3)
