import itertools
import re
from collections.abc import Sequence
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llm_engineering.domain.chunking import ChunkingConfig, chunk_document
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import Chunk, CleanedDocument, Section
from llm_engineering.domain.segmentation import sentence_spans

TOKEN = re.compile(r"\w+|[^\w\s]")


def count_words(texts: Sequence[str]) -> list[int]:
    """Additive: a word or a punctuation mark is one token."""
    assert not isinstance(texts, str), "count_tokens takes a batch of texts"
    return [len(TOKEN.findall(text)) for text in texts]


def count_lengthy(texts: Sequence[str]) -> list[int]:
    """Not additive: one more token per 7 characters, so two pieces joined may cost more than both alone."""
    return [n + len(text) // 7 for n, text in zip(count_words(texts), texts, strict=True)]


COUNTERS = {"words": count_words, "lengthy": count_lengthy}


def document(category: str, *sections: tuple[str, str]) -> CleanedDocument:
    return CleanedDocument(
        id=UUID(int=7),
        category=DataCategory(category),
        sections=[Section(name=name, text=text) for name, text in sections],
        platform="blog",
        author_id=UUID(int=1),
        author_full_name="Iris Calder",
        link="https://x.io/p",
        content_hash="0" * 64,
    )


def config(max_tokens: int, overlap_tokens: int) -> ChunkingConfig:
    return ChunkingConfig(
        post_max_tokens=max_tokens,
        post_overlap_tokens=overlap_tokens,
        article_max_tokens=max_tokens,
        article_overlap_tokens=overlap_tokens,
        repository_max_tokens=max_tokens,
        repository_overlap_tokens=overlap_tokens,
    )


def solid(text: str) -> str:
    return re.sub(r"\s", "", text)


# --- documents hypothesis draws ---------------------------------------------------------------------
VOCABULARY = [
    "the",
    "index",
    "Dr.",
    "e.g.",
    "3.14",
    "(see",
    "it)",
    "“quoted”",
    "naïve",
    "中文",
    "x" * 40,
    "a,b",
]
words = st.sampled_from(VOCABULARY) | st.text(
    st.characters(categories=["L", "N", "P"]), min_size=1, max_size=12
)
prose_sentences = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(words, min_size=1, max_size=12),
    st.sampled_from([".", "!", "?", "…"]),
)
paragraphs = st.lists(prose_sentences, min_size=1, max_size=6).map(" ".join)
fenced = st.lists(st.sampled_from(["x = 1", "    return x", "", "print( 'a b' )"]), max_size=5).map(
    lambda lines: "```\n" + "\n".join(lines) + "\n```"
)
prose = st.lists(paragraphs | fenced, max_size=6).map("\n\n".join) | st.text(max_size=300)
code_line = st.sampled_from(
    ["def f(x):", "    y = x + 1", "", "    return y", "class A:", "import os", "z" * 90]
)
code = st.lists(code_line, max_size=30).map("\n".join) | st.text(max_size=300)


@st.composite
def documents(draw: st.DrawFn) -> CleanedDocument:
    category = draw(st.sampled_from(["articles", "posts", "repositories"]))
    texts = draw(st.lists(code if category == "repositories" else prose, min_size=1, max_size=3))
    return document(category, *((f"part{index}", text) for index, text in enumerate(texts)))


@st.composite
def configs(draw: st.DrawFn, overlap: bool = True) -> ChunkingConfig:
    max_tokens = draw(st.integers(8, 60))
    return config(max_tokens, draw(st.integers(0, max_tokens - 1)) if overlap else 0)


def chunks_of(doc: CleanedDocument, counter: str, settings_: ChunkingConfig, limit: int = 254) -> list[Chunk]:
    return chunk_document(doc, COUNTERS[counter], limit, settings_)


# --- properties ----------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(documents(), configs(), st.sampled_from(sorted(COUNTERS)), st.integers(8, 254))
def test_chunks_fit_are_numbered_in_order_and_stay_inside_their_section(
    doc: CleanedDocument, cfg: ChunkingConfig, counter: str, limit: int
) -> None:
    chunks = chunks_of(doc, counter, cfg, limit)
    most = min(cfg.budget(doc.category, limit)[0], limit)
    assert chunks, "every document yields at least one chunk"
    assert [chunk.chunk_index for chunk in chunks] == list(range(len(chunks)))
    assert all(n <= most for n in COUNTERS[counter]([chunk.content for chunk in chunks]))
    names = [section.name for section in doc.sections]
    order = [names.index(chunk.section) for chunk in chunks]
    assert order == sorted(order), "sections are chunked in document order"
    for chunk in chunks:
        assert chunk.content in doc.sections[names.index(chunk.section)].text, (
            "a chunk never crosses sections"
        )
        assert (chunk.document_id, chunk.category, chunk.link) == (doc.id, doc.category, doc.link)


@settings(max_examples=100, deadline=None)
@given(documents(), configs(overlap=False), st.sampled_from(sorted(COUNTERS)))
def test_without_overlap_chunks_put_back_together_are_the_text(
    doc: CleanedDocument, cfg: ChunkingConfig, counter: str
) -> None:
    chunks = chunks_of(doc, counter, cfg)
    assert solid("".join(chunk.content for chunk in chunks)) == solid("".join(s.text for s in doc.sections))


@settings(max_examples=75, deadline=None)
@given(documents(), configs(), st.sampled_from(sorted(COUNTERS)))
def test_with_overlap_every_word_is_kept_in_order(
    doc: CleanedDocument, cfg: ChunkingConfig, counter: str
) -> None:
    chunks = chunks_of(doc, counter, cfg)
    for section in doc.sections:
        parts = [chunk.content for chunk in chunks if chunk.section == section.name]
        if solid(section.text):
            assert solid(section.text).startswith(solid(parts[0]))
            assert solid(section.text).endswith(solid(parts[-1]))
        remaining = iter(solid("".join(parts)))
        assert all(char in remaining for char in solid(section.text)), (
            "the text is a subsequence of the chunks"
        )


@settings(max_examples=50, deadline=None)
@given(documents(), configs(), st.sampled_from(sorted(COUNTERS)))
def test_chunking_is_deterministic(doc: CleanedDocument, cfg: ChunkingConfig, counter: str) -> None:
    first, second = chunks_of(doc, counter, cfg), chunks_of(doc, counter, cfg)
    assert first == second
    assert [chunk.id for chunk in first] == [chunk.id for chunk in second]
    assert len({chunk.id for chunk in first}) == len(first)


short_sentences = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta"]), min_size=2, max_size=5).map(
    lambda ws: " ".join(ws).capitalize() + "."
)


@settings(max_examples=75, deadline=None)
@given(st.lists(short_sentences, min_size=2, max_size=40), st.integers(18, 40), st.integers(6, 10))
def test_consecutive_chunks_overlap_by_whole_trailing_sentences(
    sentences: list[str], max_tokens: int, overlap_tokens: int
) -> None:
    doc = document("articles", ("article", " ".join(sentences)))
    chunks = chunks_of(doc, "words", config(max_tokens, overlap_tokens))
    for previous, following in itertools.pairwise(chunks):
        tail = previous.content.split(" ")
        overlaps = [" ".join(tail[-k:]) for k in range(1, len(tail)) if tail[-k - 1].endswith(".")]
        # Every sentence is at most 6 tokens, so at least the last one fits in the overlap.
        assert any(
            following.content.startswith(overlap + " ") and count_words([overlap])[0] <= overlap_tokens
            for overlap in overlaps
        )


# --- examples ------------------------------------------------------------------------------------
def test_a_short_post_is_one_chunk() -> None:
    doc = document("posts", ("post", "Shipped the new index today. It is twice as fast!"))
    (chunk,) = chunk_document(doc, count_words, 254, ChunkingConfig())
    assert (chunk.chunk_index, chunk.section, chunk.content) == (0, "post", doc.sections[0].text)


PARAGRAPHS = [
    " ".join(f"Paragraph {p} sentence {s} has a few more words in it." for s in range(4)) for p in range(8)
]


def test_a_long_article_is_cut_between_paragraphs() -> None:
    doc = document("articles", ("article", "\n\n".join(PARAGRAPHS)))
    chunks = chunk_document(doc, count_words, 254, config(130, 0))  # a paragraph is 48 tokens: two fit
    assert [chunk.content for chunk in chunks] == ["\n\n".join(PARAGRAPHS[i : i + 2]) for i in range(0, 8, 2)]


def test_an_article_chunk_starts_with_the_last_sentence_of_the_one_before() -> None:
    doc = document("articles", ("article", "\n\n".join(PARAGRAPHS)))
    chunks = chunk_document(doc, count_words, 254, config(130, 20))  # 12 tokens a sentence, 48 a paragraph
    assert len(chunks) == 4
    for previous, following in itertools.pairwise(chunks):
        assert following.content.startswith(previous.content.rsplit(". ", 1)[-1] + "\n\nParagraph")


def test_a_paragraph_longer_than_the_max_is_cut_between_sentences() -> None:
    doc = document("posts", ("post", PARAGRAPHS[0]))  # 4 sentences of 12 tokens
    chunks = chunk_document(doc, count_words, 254, config(30, 0))
    assert [chunk.content.count(".") for chunk in chunks] == [2, 2]
    assert all(chunk.content.endswith("it.") for chunk in chunks)


SOURCE = (
    "import os\n\n\ndef main():\n    path = os.getcwd()\n\n    return path\n\n\nclass Tool:\n    name = 'x'\n"
)


def test_a_repository_is_chunked_per_file_and_keeps_functions_whole() -> None:
    doc = document("repositories", ("src/app.py", SOURCE), ("README.md", "# Tool\n\nRuns things."))
    chunks = chunk_document(doc, count_words, 254, config(14, 0))
    assert [(chunk.section, chunk.content) for chunk in chunks] == [
        ("src/app.py", "import os"),
        ("src/app.py", "def main():\n    path = os.getcwd()\n\n    return path"),
        ("src/app.py", "class Tool:\n    name = 'x'"),
        ("README.md", "# Tool\n\nRuns things."),
    ]


def test_a_giant_word_is_cut_into_pieces_that_fit() -> None:
    word = "".join(chr(ord("a") + i % 26) for i in range(2000))
    doc = document("articles", ("article", f"Before. {word} after."))
    chunks = chunk_document(doc, count_lengthy, 254, config(40, 8))
    assert len(chunks) > 5
    assert all(n <= 40 for n in count_lengthy([chunk.content for chunk in chunks]))
    assert word in "".join(chunk.content for chunk in chunks)


@pytest.mark.parametrize("sections", [[("article", "")], [("article", " \n\n ")]], ids=["empty", "blank"])
def test_an_empty_document_is_one_empty_chunk(sections: list[tuple[str, str]]) -> None:
    (chunk,) = chunk_document(document("articles", *sections), count_words, 254, ChunkingConfig())
    assert (chunk.chunk_index, chunk.content) == (0, "")


def test_counts_that_do_not_add_up_are_caught_by_the_final_recount() -> None:
    def paragraph_breaks_cost_extra(texts: Sequence[str]) -> list[int]:
        return [n + 40 * text.count("\n\n") for n, text in zip(count_words(texts), texts, strict=True)]

    doc = document("articles", ("article", "\n\n".join(PARAGRAPHS)))
    chunks = chunk_document(doc, paragraph_breaks_cost_extra, 254, config(130, 0))
    # Two paragraphs add up to 96 tokens but count 136 together, so each ends up alone.
    assert [chunk.content for chunk in chunks] == PARAGRAPHS


def test_tokens_are_counted_in_a_few_batches() -> None:
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> list[int]:
        calls.append(len(texts))
        return count_words(texts)

    doc = document("articles", ("article", "\n\n".join(PARAGRAPHS * 10)))
    chunks = chunk_document(doc, counting, 254, ChunkingConfig())
    assert calls == [320, len(chunks)], "one batch of sentences, one of finished chunks"


def test_the_model_limit_caps_the_configured_max() -> None:
    doc = document("articles", ("article", "\n\n".join(PARAGRAPHS)))
    chunks = chunk_document(doc, count_words, 60, ChunkingConfig())
    assert len(chunks) > 1
    assert max(count_words([chunk.content for chunk in chunks])) <= 60


def test_counter_errors_say_what_is_wrong() -> None:
    doc = document("posts", ("post", "One. Two."))
    with pytest.raises(ValueError, match="one each"):
        chunk_document(doc, lambda texts: [1], 254, ChunkingConfig())
    with pytest.raises(ValueError, match="alone counts 999 tokens"):
        chunk_document(doc, lambda texts: [999] * len(texts), 254, ChunkingConfig())


# --- configuration and sentences -----------------------------------------------------------------
def test_config_defaults_and_budget() -> None:
    defaults = ChunkingConfig()
    assert defaults.budget(DataCategory.POSTS, 254) == (128, 16)
    assert defaults.budget(DataCategory.ARTICLES, 254) == (224, 32)
    assert defaults.budget(DataCategory.REPOSITORIES, 254) == (254, 0)
    assert defaults.budget(DataCategory.ARTICLES, 20) == (20, 19)
    with pytest.raises(ValueError, match="no text"):
        defaults.budget(DataCategory.USERS, 254)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"post_overlap_tokens": 128}, "lower the overlap or raise the maximum"),
        ({"article_max_tokens": 0}, "greater than 0"),
        ({"chunk_size": 100}, "Extra inputs are not permitted"),
    ],
    ids=["overlap-not-below-max", "zero-max", "unknown-field"],
)
def test_config_refuses_bad_values(fields: dict[str, int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ChunkingConfig(**fields)


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        ChunkingConfig().post_max_tokens = 3  # type: ignore[misc]


CJK_SENTENCES = ("\u4f60\u597d\u3002", "\u518d\u89c1\uff01", "\u597d\u5417\uff1f")  # ideographic . ! ?


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("See e.g. the docs. Ask Dr. Who, i.e. him.", ["See e.g. the docs.", "Ask Dr. Who, i.e. him."]),
        ("Pi is 3.14 today. Step 3. Next.", ["Pi is 3.14 today.", "Step 3.", "Next."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Wait… What (really?) yes.", ["Wait…", "What (really?) yes."]),
        ("Pears, etc. and more. Then etc. The end.", ["Pears, etc. and more.", "Then etc.", "The end."]),
        ("J. R. Tolkien wrote it. In the U.S. it sold.", ["J. R. Tolkien wrote it.", "In the U.S. it sold."]),
        ("".join(CJK_SENTENCES), list(CJK_SENTENCES)),
        ("  ", []),
    ],
    ids=["terminals", "abbreviations", "decimals-and-numbers", "quotes", "ellipsis-and-brackets", "etc",
         "initials", "cjk", "blank"],
)  # fmt: skip
def test_sentence_spans(line: str, expected: list[str]) -> None:
    assert [line[start:end] for start, end in sentence_spans(line, 0, len(line))] == expected
