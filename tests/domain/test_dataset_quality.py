import pytest
from pydantic import ValidationError

from llm_engineering.domain.dataset_quality import (
    FilterReport,
    QualityConfig,
    apply_rule_filters,
    deduplicate,
    normalise_text,
    word_ngrams,
)
from llm_engineering.domain.datasets import InstructSample, PreferenceSample
from llm_engineering.domain.documents import DataCategory

OUTPUT = "The warehouse keeps each document under its link, so crawling twice updates it in place."
QUESTION = "Why does crawling a page twice not create a copy?"
REJECTED = "Crawlers usually check whether a page was seen before, which avoids duplicate documents."


def instruct(
    instruction: str = QUESTION, output: str = OUTPUT, link: str = "https://x.io/a"
) -> InstructSample:
    return InstructSample(
        instruction=instruction, output=output, category=DataCategory.ARTICLES, source_link=link
    )


def preference(prompt: str = QUESTION, chosen: str = OUTPUT, rejected: str = REJECTED) -> PreferenceSample:
    return PreferenceSample(
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        category=DataCategory.POSTS,
        source_link="https://x.io/p",
    )


def only(name: str, removed: int) -> dict[str, int]:
    counts = {"length": 0, "format": 0, "banned_phrases": 0}
    counts[name] = removed
    return counts


# --- configuration and report -----------------------------------------------------------------------


def test_config_defaults_are_documented_and_extra_keys_refused() -> None:
    config = QualityConfig()
    assert (config.near_duplicate_threshold, config.minhash_num_perm, config.shingle_words) == (0.8, 128, 3)
    assert config.decontamination_ngram == 8
    assert "as an ai" in config.banned_phrases
    assert all(field.description for field in QualityConfig.model_fields.values())
    with pytest.raises(ValidationError, match="extra"):
        QualityConfig(min_words=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="min_output_words=50 is above max_output_words=20"):
        QualityConfig(min_output_words=50, max_output_words=20)
    with pytest.raises(ValidationError):
        QualityConfig(near_duplicate_threshold=1.5)


def test_filter_report_appends_counts_in_order() -> None:
    report = FilterReport(removed={"length": 2}).add("exact_duplicates", 3).add("length", 1)
    assert list(report.removed.items()) == [("length", 3), ("exact_duplicates", 3)]
    assert report.total == 6


# --- rule filters -----------------------------------------------------------------------------------


def test_good_samples_pass_every_filter() -> None:
    samples: list[InstructSample | PreferenceSample] = [instruct(), preference()]
    kept, report = apply_rule_filters(samples, QualityConfig())
    assert kept == samples
    assert report.removed == only("length", 0)


@pytest.mark.parametrize(
    "sample",
    [
        instruct(instruction="Why?"),
        instruct(instruction="Explain " + "this " * 60),
        instruct(output="Too short."),
        instruct(output="word " * 1001),
        preference(rejected="Seen pages are skipped."),
    ],
    ids=["short instruction", "long instruction", "short output", "long output", "short rejected"],
)
def test_length_filter_removes(sample: InstructSample | PreferenceSample) -> None:
    kept, report = apply_rule_filters([sample], QualityConfig())
    assert (kept, report.removed) == ([], only("length", 1))


def test_length_bounds_come_from_the_config() -> None:
    short = instruct(output="Crawls update in place.")
    assert apply_rule_filters([short], QualityConfig(min_output_words=4))[0] == [short]
    assert apply_rule_filters([short], QualityConfig(min_output_words=5))[0] == []


@pytest.mark.parametrize(
    "sample",
    [
        instruct(instruction='{"instruction": "Why does crawling twice not copy?"}'),
        instruct(instruction='Why does "instruction": crawling twice not copy?'),
        instruct(instruction="Instruction: Why does crawling a page twice not copy?"),
        preference(rejected="Answer: crawlers usually check whether a page was seen before anyway."),
        preference(rejected="Crawlers usually check whether a page was seen before. <|im_end|>"),
        preference(rejected='```json\n{"answer": "crawlers check whether a page was seen before"}\n```'),
    ],
    ids=["JSON instruction", "JSON key", "label", "answer label", "template token", "JSON fence"],
)
def test_format_filter_removes_generation_leftovers(sample: InstructSample | PreferenceSample) -> None:
    kept, report = apply_rule_filters([sample], QualityConfig())
    assert (kept, report.removed) == ([], only("format", 1))


def test_format_filter_leaves_the_authors_code_and_json_alone() -> None:
    code = 'config = {"instruction": "x", "retries": 3}\nprint(config)  # Answer: a dict of settings'
    samples: list[InstructSample | PreferenceSample] = [
        instruct(output=code),
        preference(chosen=code),
        preference(rejected="Use a dict such as {'retries': 3} and pass it to the crawler on start."),
    ]
    assert apply_rule_filters(samples, QualityConfig())[0] == samples


@pytest.mark.parametrize(
    "sample",
    [
        preference(rejected="As an AI language model, I do not crawl pages, but crawlers often dedupe."),
        preference(rejected="I\u2019m sorry, but I don\u2019t know how this warehouse stores its documents."),
        instruct(instruction="As an AI, explain why crawling a page twice does not copy it."),
    ],
    ids=["as an ai", "curly apostrophe", "in the instruction"],
)
def test_banned_phrase_filter_removes_llm_boilerplate(sample: InstructSample | PreferenceSample) -> None:
    kept, report = apply_rule_filters([sample], QualityConfig())
    assert (kept, report.removed) == ([], only("banned_phrases", 1))


def test_banned_phrases_match_whole_words_in_llm_fields_only() -> None:
    samples: list[InstructSample | PreferenceSample] = [
        instruct(output="I'm sorry to say it, but as a language model researcher I cannot skip dedup."),
        preference(
            rejected="Ask an aide: as an aide would say, crawlers usually check whether pages repeat."
        ),
    ]
    assert apply_rule_filters(samples, QualityConfig())[0] == samples
    strict = QualityConfig(banned_phrases=("an aide",))
    assert apply_rule_filters(samples, strict)[0] == samples[:1]


def test_each_sample_is_counted_under_the_first_filter_it_fails() -> None:
    samples: list[InstructSample | PreferenceSample] = [
        instruct(instruction="Instruction: Why?"),  # length and format: counted as length
        instruct(instruction="Instruction: as an AI, why does crawling twice not copy?"),  # format first
        preference(rejected="As an AI, I cannot know how this warehouse stores its documents."),
        instruct(),
    ]
    kept, report = apply_rule_filters(samples, QualityConfig())
    assert kept == samples[3:]
    assert list(report.removed.items()) == [("length", 1), ("format", 1), ("banned_phrases", 1)]


# --- deduplication ----------------------------------------------------------------------------------


def test_normalise_text_and_word_ngrams() -> None:
    assert normalise_text("  It's  the\tSAME,\ntext!! ") == "its the same text"
    assert word_ngrams("a b c d", 3) == {"a b c", "b c d"}
    assert word_ngrams("a b", 3) == set()
    with pytest.raises(ValueError, match="n=0"):
        word_ngrams("a b", 0)


def exact_jaccard_finder(
    texts: list[str], threshold: float, num_perm: int, shingle: int, seed: int
) -> set[int]:
    """An exact, slow stand-in for MinHash: texts whose shingle Jaccard to a kept one reaches threshold."""
    kept: list[set[str]] = []
    dropped = set()
    for index, text in enumerate(texts):
        shingles = word_ngrams(normalise_text(text), shingle)
        if any(len(shingles & other) >= threshold * len(shingles | other) for other in kept):
            dropped.add(index)
        else:
            kept.append(shingles)
    return dropped


def finds_nothing(texts: list[str], threshold: float, num_perm: int, shingle: int, seed: int) -> set[int]:
    return set()


def test_exact_duplicates_ignore_case_punctuation_and_spacing_and_keep_the_first() -> None:
    first = instruct(link="https://x.io/1")
    same = instruct(
        instruction=QUESTION.upper(), output=OUTPUT.replace(",", "").replace(" ", "  "), link="https://x.io/2"
    )
    other = instruct(output="A different passage about a feature store and its collections.")
    kept, exact, near = deduplicate([first, same, other, first], QualityConfig(), finds_nothing)
    assert (kept, exact, near) == ([first, other], 2, 0)


def test_exact_duplicates_use_the_given_key() -> None:
    a = instruct(instruction="Why does crawling twice not create a copy?")
    b = instruct(instruction="Explain why a second crawl updates in place.")
    by_output = deduplicate([a, b], QualityConfig(), finds_nothing, key=lambda sample: sample.output)
    assert by_output == ([a], 1, 0)
    assert deduplicate([a, b], QualityConfig(), finds_nothing) == ([a, b], 0, 0)


def test_near_duplicates_are_removed_after_exact_ones_with_the_configured_threshold() -> None:
    words = [f"word{index}" for index in range(40)]
    base = instruct(output=" ".join(words))
    edited = instruct(output=" ".join([*words[:-1], "changed"]))
    distinct = instruct(output=" ".join(reversed(words)))
    samples = [base, base, edited, distinct]
    assert deduplicate(samples, QualityConfig(), exact_jaccard_finder) == ([base, distinct], 1, 1)
    strict = QualityConfig(near_duplicate_threshold=0.99)
    assert deduplicate(samples, strict, exact_jaccard_finder) == ([base, edited, distinct], 1, 0)


def test_a_finder_returning_unknown_indices_fails() -> None:
    def broken(texts: list[str], threshold: float, num_perm: int, shingle: int, seed: int) -> set[int]:
        return {len(texts)}

    with pytest.raises(ValueError, match="outside"):
        deduplicate([instruct()], QualityConfig(), broken)
