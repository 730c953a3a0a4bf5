import pytest

from boring_pipes.chunking import chunk_words
from boring_pipes.cleaning import clean_text
from boring_pipes.dedupe import drop_duplicates
from boring_pipes.records import Record


def test_chunks_overlap_by_the_requested_number_of_words():
    text = " ".join(str(number) for number in range(10))
    chunks = chunk_words(text, size=4, overlap=2)
    assert chunks == ["0 1 2 3", "2 3 4 5", "4 5 6 7", "6 7 8 9"]


def test_every_word_lands_in_some_chunk():
    words = [f"w{number}" for number in range(103)]
    chunks = chunk_words(" ".join(words), size=10, overlap=3)
    covered = {word for chunk in chunks for word in chunk.split()}
    assert covered == set(words)


def test_empty_text_gives_no_chunks():
    assert chunk_words("   \n ", size=5) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (3, 3), (3, -1)])
def test_impossible_windows_are_refused(size, overlap):
    with pytest.raises(ValueError):
        chunk_words("a b c", size=size, overlap=overlap)


def test_cleaning_drops_cookie_banners_and_extra_blank_lines():
    raw = "Accept all cookies\n\nTitle   here\n\n\n\nBody\ttext"
    assert clean_text(raw) == "Title here\n\nBody text"


def test_duplicates_differing_only_in_whitespace_are_dropped():
    records = [Record("a", "Hello  world"), Record("b", "hello world\n"), Record("c", "Other")]
    assert [record.id for record in drop_duplicates(records)] == ["a", "c"]
