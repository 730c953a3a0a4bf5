import pytest
from pydantic import ValidationError

from llm_engineering.domain.datasets import MalformedAnswerError
from llm_engineering.domain.grounding import (
    AnswerGrounding,
    Claim,
    GroundingSummary,
    answer_claims,
    cited_numbers,
    content_words,
    grade_answer,
    parse_support,
    word_overlap,
)


@pytest.mark.parametrize(
    ("body", "numbers"),
    [("2", [2]), ("1, 2", [1, 2]), ("1-3", [1, 2, 3]), ("1,3-4", [1, 3, 4]), ("2 and 5", [2, 5])],
)
def test_marker_bodies_name_every_passage(body: str, numbers: list[int]) -> None:
    assert cited_numbers(body) == numbers


def test_a_range_no_answer_means_is_not_expanded_into_passages() -> None:
    assert cited_numbers("1-500") == [1, 500]


@pytest.mark.parametrize(
    ("answer", "claims"),
    [
        (
            "Chunks overlap by fifty tokens [1]. Qdrant keeps the vectors on disk [2].",
            [("Chunks overlap by fifty tokens.", (1,)), ("Qdrant keeps the vectors on disk.", (2,))],
        ),
        ("The reranker keeps the best five [1][2].", [("The reranker keeps the best five.", (1, 2))]),
        ("The reranker keeps the best five [1, 3].", [("The reranker keeps the best five.", (1, 3))]),
        ("The reranker keeps the best five [1-3].", [("The reranker keeps the best five.", (1, 2, 3))]),
        ("The reranker keeps the best five [Passage 2].", [("The reranker keeps the best five.", (2,))]),
        (
            "Chunking [1] and embedding [2] are separate steps.",
            [("Chunking and embedding are separate steps.", (1, 2))],
        ),
        (  # a marker after the sentence's end, glued or spaced, or alone on the next line
            "ZenML caches unchanged steps. [2] It versions every artifact.[1] Lineage comes for free.\n[3]",
            [
                ("ZenML caches unchanged steps.", (2,)),
                ("It versions every artifact.", (1,)),
                ("Lineage comes for free.", (3,)),
            ],
        ),
        (  # abbreviations and decimals do not end a sentence
            "Use a small model, e.g. MiniLM, at 0.5 s per batch [1]. It runs fine on a laptop.",
            [
                ("Use a small model, e.g. MiniLM, at 0.5 s per batch.", (1,)),
                ("It runs fine on a laptop.", ()),
            ],
        ),
        (  # list items and headings are claims of their own, without their bullets
            "## How I build features\n- Clean each document first [1]\n2. Then chunk what is left [2]",
            [
                ("How I build features", ()),
                ("Clean each document first", (1,)),
                ("Then chunk what is left", (2,)),
            ],
        ),
        (  # out-of-range numbers are kept: they count as unsupported citations
            "Vectors are 384 numbers long [7].",
            [("Vectors are 384 numbers long.", (7,))],
        ),
    ],
)
def test_answers_split_into_claims_with_their_citations(answer: str, claims: list[tuple[str, tuple]]) -> None:
    assert answer_claims(answer) == [Claim(text=text, cited=cited) for text, cited in claims]


def test_fragments_and_code_state_nothing() -> None:
    answer = (
        "Yes [1]. In short: it works.\n```python\nchunks = split_into_chunks(text, size=512)\n```\nSee above."
    )
    assert answer_claims(answer) == [Claim(text="In short: it works.")]


def test_content_words_fold_endings_and_skip_function_words() -> None:
    assert content_words("The embeddings of the chunks") == content_words("embedded chunk")
    assert word_overlap("Qdrant stores embedded chunks", "We keep every chunk embedding in Qdrant.") == 3 / 4
    assert word_overlap("it is what it is", "anything") == 1.0


@pytest.mark.parametrize(
    ("text", "supported"),
    [
        ("Yes", True),
        ("no.", False),
        ("**Yes.** It says so.", True),
        ("The answer is no", False),
        ("True", True),
    ],
)
def test_judge_answers_read_as_yes_or_no(text: str, supported: bool) -> None:
    assert parse_support(text) is supported


@pytest.mark.parametrize("text", ["Maybe.", "", "It could be yes or no."])
def test_answers_without_one_verdict_are_malformed(text: str) -> None:
    with pytest.raises(MalformedAnswerError):
        parse_support(text)


def test_grading_counts_held_citations_and_unsupported_claims() -> None:
    claims = [
        Claim(text="held citation", cited=(1,)),
        Claim(text="held by the second of two cited", cited=(1, 2)),
        Claim(text="wrong passage cited, supported elsewhere", cited=(1,)),
        Claim(text="out of range", cited=(9,)),
        Claim(text="uncited but supported", cited=()),
        Claim(text="uncited and unsupported", cited=()),
    ]
    support = [
        [True, False],
        [False, True],
        [False, True],
        [False, False],
        [True, False],
        [False, False],
    ]
    graded = grade_answer(claims, support)
    assert graded == AnswerGrounding(claims=6, cited_claims=4, supported_citations=2, unsupported_claims=2)
    assert graded.citation_precision == 0.5
    assert graded.unsupported_share == 2 / 6


def test_an_answer_that_cites_nothing_has_no_precision() -> None:
    graded = grade_answer([Claim(text="no citation here")], [[True]])
    assert graded.citation_precision is None
    assert graded.unsupported_share == 0.0
    assert grade_answer([], []).unsupported_share is None


def test_counts_must_nest() -> None:
    with pytest.raises(ValidationError, match="must nest"):
        AnswerGrounding(claims=2, cited_claims=1, supported_citations=2, unsupported_claims=0)
    with pytest.raises(ValueError, match="one row of support per claim"):
        grade_answer([Claim(text="one claim")], [])


def test_summary_keeps_per_answer_values_and_means() -> None:
    summary = GroundingSummary(
        answers=(
            AnswerGrounding(claims=4, cited_claims=2, supported_citations=2, unsupported_claims=1),
            AnswerGrounding(claims=2, cited_claims=0, supported_citations=0, unsupported_claims=2),
            AnswerGrounding(claims=4, cited_claims=4, supported_citations=1, unsupported_claims=0),
            AnswerGrounding(claims=0, cited_claims=0, supported_citations=0, unsupported_claims=0),
        )
    )
    assert summary.citation_precisions == [1.0, 0.25]
    assert summary.unsupported_shares == [0.25, 1.0, 0.0]
    assert summary.mean_citation_precision == 0.625
    assert summary.mean_unsupported_share == pytest.approx(1.25 / 3)
    assert summary.metrics() == {
        "citation_precision": 0.625,
        "unsupported_share": pytest.approx(1.25 / 3),
        "answers": 4,
        "answers_citing": 2,
        "answers_stating": 3,
    }
    assert GroundingSummary(answers=()).metrics() == {"answers": 0, "answers_citing": 0, "answers_stating": 0}
