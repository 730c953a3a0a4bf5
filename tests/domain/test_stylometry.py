import pytest

from llm_engineering.domain.stylometry import (
    FUNCTION_WORDS,
    describe_differences,
    feature_differences,
    moving_type_token_ratio,
    profile,
    profile_distance,
)

PLAIN = [
    "I split the documents on headings first. Then I cut long sections into pieces of about 150 words.",
    "The evaluation set lives in the repository, and it runs on every change to the prompts.",
]
CHATTY = [
    "Wow!!! Chunking is SO important! You should totally try it today!",
    "Rerankers? Amazing! Add one now — seriously, you won't regret it!",
]


def test_function_words_are_about_a_hundred_distinct_lowercase_words() -> None:
    assert 90 <= len(FUNCTION_WORDS) <= 130
    assert len(set(FUNCTION_WORDS)) == len(FUNCTION_WORDS)
    assert all(word.isalpha() and word == word.lower() for word in FUNCTION_WORDS)


def test_profile_measures_sentences_words_and_punctuation() -> None:
    measured = profile(["One two three. Four five, six seven eight nine!", "Ten (eleven) twelve?"])
    assert measured.mean_sentence_length == pytest.approx(4.0)  # sentences of 3, 6 and 3 words
    assert measured.sentence_length_sd == pytest.approx(2**0.5)
    assert measured.words == 12
    assert measured.punctuation["comma"] == pytest.approx(100 / 12)
    assert measured.punctuation["exclamation"] == measured.punctuation["question"] == pytest.approx(100 / 12)
    assert measured.punctuation["parenthesis"] == pytest.approx(100 / 12)
    assert measured.punctuation["semicolon"] == 0


def test_function_word_rates_are_shares_of_all_words_ignoring_case() -> None:
    measured = profile(["The cat and THE dog"])
    assert measured.function_words["the"] == pytest.approx(2 / 5)
    assert measured.function_words["and"] == pytest.approx(1 / 5)
    assert measured.function_words["you"] == 0


def test_dashes_hyphens_and_quotes_are_told_apart() -> None:
    measured = profile(['A well-known tool — "boring" on purpose.'])
    assert measured.punctuation["hyphen"] == pytest.approx(100 / 7)
    assert measured.punctuation["dash"] == pytest.approx(100 / 7)
    assert measured.punctuation["quote"] == pytest.approx(200 / 7)


def test_moving_type_token_ratio_does_not_fall_with_length_like_the_plain_ratio() -> None:
    stretch = [f"w{i}" for i in range(40)]
    short, long = stretch * 2, stretch * 10
    assert moving_type_token_ratio(short) == pytest.approx(moving_type_token_ratio(long))
    assert moving_type_token_ratio(["a", "a", "b"]) == pytest.approx(2 / 3)  # shorter than the window


def test_profile_without_words_is_refused() -> None:
    with pytest.raises(ValueError, match="without a single word"):
        profile(["123 456", "!!!"])
    with pytest.raises(ValueError, match="without a single word"):
        profile([])


def test_distance_is_zero_for_the_same_profile_symmetric_and_bounded() -> None:
    plain, chatty = profile(PLAIN), profile(CHATTY)
    assert profile_distance(plain, plain) == 0
    assert profile_distance(plain, chatty) == pytest.approx(profile_distance(chatty, plain))
    assert 0 < profile_distance(plain, chatty) <= 1


def test_a_similar_voice_is_closer_than_a_different_one() -> None:
    similar = profile(["I keep the chunks small. Then I measure them on twenty real questions, by hand."])
    assert profile_distance(profile(PLAIN), similar) < profile_distance(profile(PLAIN), profile(CHATTY))


def test_feature_differences_sum_to_the_distance_largest_first() -> None:
    plain, chatty = profile(PLAIN), profile(CHATTY)
    parts = feature_differences(plain, chatty)
    assert sum(parts.values()) == pytest.approx(profile_distance(plain, chatty))
    assert list(parts.values()) == sorted(parts.values(), reverse=True)
    assert "'!' per 100 words" in list(parts)[:5]


def test_differences_are_described_with_both_values() -> None:
    described = describe_differences(profile(PLAIN), profile(CHATTY), top=2)
    assert len(described) == 2
    assert all(" vs " in line for line in described)
    assert any(line.startswith("'!' per 100 words 0 vs") for line in described)
