import math

import pytest

from llm_engineering.domain.retrieval import (
    bm25_scores,
    find_author,
    find_platform,
    parse_query_variants,
    reciprocal_rank_fusion,
    words,
)

AUTHORS = {"a1": "Iris Calder", "a2": "Tom Okafor", "a3": "Iris Novak"}


@pytest.mark.parametrize(
    ("question", "author"),
    [
        ("What does Iris Calder think about retries?", "a1"),
        ("what does iris calder think", "a1"),
        ("How does Calder chunk documents?", "a1"),  # a last name no other author has
        ("Calder's view on chunking?", "a1"),
        ("What does Okafor say about backoff?", "a2"),
        ("What does Iris think about retries?", None),  # two authors are called Iris
        ("How should I chunk documents?", None),
        ("Is the calderon recipe good?", None),  # a name inside another word is not a mention
    ],
)
def test_find_author(question: str, author: str | None) -> None:
    assert find_author(question, AUTHORS) == author


@pytest.mark.parametrize(
    ("question", "platform"),
    [
        ("What did she write on Medium about retries?", "medium"),
        ("Summarise her LinkedIn posts... from LinkedIn", "linkedin"),
        ("What does her newsletter on Substack say?", "substack"),
        ("Anything in her newsletter about evals?", "substack"),
        ("Is Medium-sized chunking better?", None),  # no cue such as "on" or "from"
        ("What did she post on LinkedIn and on Medium?", None),  # two platforms: no single filter
    ],
)
def test_find_platform(question: str, platform: str | None) -> None:
    assert find_platform(question, ["medium", "linkedin", "substack", "blog"]) == platform


def test_bm25_against_a_hand_computed_value() -> None:
    documents = ["retries need backoff", "chunk overlap", "backoff backoff budget"]
    scores = bm25_scores("backoff", documents, k1=1.5, b=0.75)
    average = 8 / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    first = idf * 1 * 2.5 / (1 + 1.5 * (1 - 0.75 + 0.75 * 3 / average))
    third = idf * 2 * 2.5 / (2 + 1.5 * (1 - 0.75 + 0.75 * 3 / average))
    assert scores == pytest.approx([first, 0.0, third])
    assert bm25_scores("anything", []) == []


def test_rare_terms_weigh_more_than_common_ones() -> None:
    documents = ["the qdrant index", "the chunk", "the retry", "the backoff"]
    scores = bm25_scores("the qdrant", documents)
    assert scores[0] == max(scores) and scores[0] > 2 * scores[1] > 0


def test_reciprocal_rank_fusion_known_values() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=1)
    assert fused == pytest.approx({"a": 1 / 2 + 1 / 3, "b": 1 / 3, "c": 1 / 4 + 1 / 2})
    with pytest.raises(ValueError, match="positive"):
        reciprocal_rank_fusion([["a"]], k=0)


def test_parse_query_variants_reads_lists_and_drops_repeats_and_fragments() -> None:
    text = (
        "1. How does Iris chunk text?\n- How does Iris chunk text?\n2) ok\n"
        '* What overlap does Iris use?\n"Why chunk by paragraph at all?"'
    )
    assert parse_query_variants(text, 5) == [
        "How does Iris chunk text?",
        "What overlap does Iris use?",
        "Why chunk by paragraph at all?",
    ]
    assert len(parse_query_variants(text, 1)) == 1


def test_words_fold_case_and_possessives() -> None:
    assert words("Calder\u2019s RAG-notes") == ["calder", "rag", "notes"]
