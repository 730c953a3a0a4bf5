import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llm_engineering.domain.datasets import (
    DatasetType,
    InstructDataset,
    InstructSample,
    MalformedAnswerError,
    PreferenceDataset,
    PreferenceSample,
    context_windows,
)
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.exceptions import TwinError


def instruct(category: str = "articles", index: int = 0) -> InstructSample:
    return InstructSample(
        instruction=f"Explain point {index}.",
        output=f"Point {index} is this.",
        category=DataCategory(category),
        source_link=f"https://x.io/{index}",
    )


def preference(category: str = "posts", index: int = 0) -> PreferenceSample:
    return PreferenceSample(
        prompt=f"Explain point {index}.",
        chosen=f"Point {index}, in my words.",
        rejected=f"Point {index} is generic.",
        category=DataCategory(category),
        source_link=f"https://x.io/{index}",
    )


# --- samples and datasets ---------------------------------------------------------------------------


def test_samples_are_frozen_and_name_their_fields() -> None:
    sample = preference()
    with pytest.raises(ValidationError):
        sample.prompt = "changed"  # type: ignore[misc]
    assert list(sample.texts()) == ["prompt", "chosen", "rejected"]
    assert sample.generated() == {"prompt": sample.prompt, "rejected": sample.rejected}
    assert (sample.question(), sample.passage()) == (sample.prompt, sample.chosen)
    assert list(instruct().texts()) == ["instruction", "output"]
    assert instruct().generated() == {"instruction": "Explain point 0."}


def test_counts_per_split_and_category() -> None:
    dataset = InstructDataset(
        train=[instruct("posts", 1), instruct("articles", 2), instruct("posts", 3)],
        test=[instruct("repositories", 4)],
    )
    assert dataset.counts() == {"train": {"articles": 1, "posts": 2}, "test": {"repositories": 1}}
    assert PreferenceDataset(train=[], test=[preference()]).counts() == {"train": {}, "test": {"posts": 1}}
    assert (InstructDataset.dataset_type, PreferenceDataset.dataset_type) == (
        DatasetType.INSTRUCTION,
        DatasetType.PREFERENCE,
    )


def test_dataset_round_trips_through_json() -> None:
    dataset = PreferenceDataset(train=[preference("posts", 1)], test=[preference("articles", 2)])
    assert PreferenceDataset.model_validate_json(dataset.model_dump_json()) == dataset


def test_malformed_answer_error_is_a_twin_error_with_its_reason() -> None:
    error = MalformedAnswerError("too short")
    assert isinstance(error, TwinError)
    assert (error.reason, str(error)) == ("too short", "too short")


# --- context windows --------------------------------------------------------------------------------

CODE = "```python\ndef load(path):\n\n    return open(path).read()\n```"


def test_short_paragraphs_merge_up_to_max_chars() -> None:
    text = "First paragraph here.\n\nSecond one.\n\nA third paragraph that is longer."
    assert context_windows(text, max_chars=40, min_chars=1) == [
        "First paragraph here.\n\nSecond one.",
        "A third paragraph that is longer.",
    ]
    assert context_windows(text, max_chars=500, min_chars=1) == [text]


def test_code_block_stays_whole_with_its_blank_lines() -> None:
    text = f"Intro.\n\n{CODE}\n\nOutro."
    windows = context_windows(text, max_chars=len(CODE), min_chars=1)
    assert windows == ["Intro.", CODE, "Outro."]


def test_oversized_code_block_splits_between_lines_and_keeps_long_lines_whole() -> None:
    long_line = "    x = " + "+".join(["value"] * 20)
    text = f"```\nfirst = 1\nsecond = 2\n{long_line}\nlast = 3\n```"
    windows = context_windows(text, max_chars=30, min_chars=1)
    assert long_line in windows
    assert all(len(window) <= 30 for window in windows if window != long_line)
    assert "".join(windows).replace("\n", "") == text.replace("\n", "")


def test_oversized_prose_splits_on_sentences() -> None:
    text = "One short sentence. Another short sentence. A third one here."
    assert context_windows(text, max_chars=45, min_chars=1) == [
        "One short sentence. Another short sentence.",
        "A third one here.",
    ]


def test_short_windows_and_documents_are_dropped() -> None:
    text = "A long enough first paragraph.\n\n" + "x" * 50 + "\n\nTiny."
    assert context_windows(text, max_chars=55, min_chars=10) == ["A long enough first paragraph.", "x" * 50]
    assert context_windows("Too short.", max_chars=100, min_chars=20) == []
    assert context_windows("", max_chars=100, min_chars=0) == []


@pytest.mark.parametrize(("max_chars", "min_chars"), [(0, 0), (10, 11), (10, -1)])
def test_bad_bounds_are_refused(max_chars: int, min_chars: int) -> None:
    with pytest.raises(ValueError, match="min_chars"):
        context_windows("text", max_chars=max_chars, min_chars=min_chars)


words = st.text(alphabet="abcdefgh", min_size=1, max_size=30)
sentence = st.lists(words, min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")
prose = st.lists(sentence, min_size=1, max_size=6).map(" ".join)
code_line = st.builds(
    lambda indent, ws: " " * indent + " ".join(ws), st.integers(0, 8), st.lists(words, max_size=8)
)
code = st.lists(code_line, min_size=1, max_size=8).map(lambda lines: "```\n" + "\n".join(lines) + "\n```")
documents = st.lists(st.one_of(prose, code), max_size=8).map("\n\n".join)


def single_code_line(window: str, text: str) -> bool:
    """A window that may exceed the maximum: one line of a code block, or one word of prose."""
    return "\n" not in window and (" " not in window.strip() or f"\n{window}\n" in text)


@settings(max_examples=150, deadline=None)
@given(documents, st.integers(8, 120), st.integers(0, 8))
def test_context_window_properties(text: str, max_chars: int, min_chars: int) -> None:
    windows = context_windows(text, max_chars, min_chars)
    assert windows == context_windows(text, max_chars, min_chars)
    position = 0
    for window in windows:
        assert len(window) >= min_chars
        assert len(window) <= max_chars or single_code_line(window, text)
        found = text.find(window, position)
        assert found >= position, "windows are pieces of the text, in order"
        position = found + len(window)
    if min_chars == 0:
        assert re.sub(r"\s", "", "".join(windows)) == re.sub(r"\s", "", text), "nothing is lost"


@settings(max_examples=60, deadline=None)
@given(st.lists(prose, min_size=2, max_size=6), st.integers(60, 200))
def test_fitting_paragraphs_are_never_split(paragraphs: list[str], max_chars: int) -> None:
    text = "\n\n".join(paragraphs)
    windows = context_windows(text, max_chars, 0)
    for paragraph in paragraphs:
        if len(paragraph) <= max_chars:
            assert any(paragraph in window for window in windows)
