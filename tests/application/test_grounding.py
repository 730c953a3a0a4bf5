"""Grounding metrics with the real packaged embedder, and the judge checker with scripted judges."""

from collections.abc import Sequence

import pytest

from llm_engineering.application.grounding import (
    DEFAULT_THRESHOLD,
    EmbeddingSupport,
    JudgeSupport,
    measure_grounding,
)
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.domain.grounding import AnswerGrounding, word_overlap
from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
from tests.support.fakes import ScriptedChatModel

CHUNKING = (
    "I split every article into chunks of about 500 tokens before embedding it. Chunks overlap by 50 tokens, "
    "so a sentence cut at a boundary still appears whole in one of them. Code blocks are never split; a "
    "function stays in one chunk even when it runs long.",
    "Embeddings come from all-MiniLM-L6-v2, which returns 384-dimensional vectors. It is small enough to run "
    "on a laptop CPU, and its quality on short technical passages is good enough for a personal knowledge "
    "base.",
)
FEATURE_STORE = (
    "The feature pipeline writes two kinds of collections to Qdrant: cleaned documents without vectors, and "
    "embedded chunks with their vectors. Training reads the cleaned collections to build datasets, while the "
    "inference service only searches the embedded ones.",
    "Every point carries its author, platform and link in the payload. That lets the retriever filter by "
    "author before the vector search instead of after it, which keeps the top results relevant when one "
    "author writes far more than the others.",
)
RERANKING = (
    "Vector search returns candidates fast but ranks them roughly. I rerank the top twenty with a "
    "cross-encoder that reads the question and the passage together, and keep the best five for the prompt.",
    "Query expansion asks the LLM for three rephrasings of the question. Each rephrasing is searched "
    "separately and the results are merged, which finds passages that use different words than the user did.",
)
PIPELINES = (
    "Each pipeline in ZenML only wires steps together. A step's outputs are versioned artifacts, so any run "
    "can be traced back to the exact data it read.",
    "ZenML caches a step when its code and inputs have not changed. Rerunning the feature pipeline after "
    "adding one article therefore skips the crawl of everything already stored.",
)

# Sentences restating the passages they cite.
GROUNDED = [
    (
        "I cut each article into chunks of roughly 500 tokens, overlapping by 50 tokens [1]. Thanks to "
        "the overlap, a sentence split at a chunk boundary still shows up whole in one chunk. [1] Code "
        "blocks are never split, so a long function stays in one chunk [1]. The chunks are embedded with "
        "all-MiniLM-L6-v2 into 384-dimensional vectors [2].",
        CHUNKING,
    ),
    (
        "The feature pipeline writes cleaned documents without vectors and embedded chunks with vectors to "
        "Qdrant [1]. Training builds its datasets from the cleaned collections, and the inference service "
        "searches only the embedded ones [1]. Each point keeps its author, platform and link in the payload, "
        "so the retriever can filter by author before the vector search [2].",
        FEATURE_STORE,
    ),
    (
        "Vector search finds candidates quickly but ranks them only roughly [1]. I rerank the top twenty "
        "candidates with a cross-encoder and keep the best five for the prompt [1]. Query expansion asks the "
        "LLM for three rephrasings of the question and merges their search results [2].",
        RERANKING,
    ),
    (
        "In ZenML a pipeline only wires its steps together [1]. Step outputs are versioned artifacts, so "
        "every run can be traced back to the data it read [1]. A step is cached when its code and inputs "
        "have not changed, so rerunning the feature pipeline skips crawling what is already stored [2].",
        PIPELINES,
    ),
]
# Fabricated personal facts, and true statements citing the wrong passage.
INVENTED = [
    (
        "I learned to chunk documents while working as a sommelier in Bordeaux [1]. My team at NASA embedded "
        "satellite telemetry with a model we trained ourselves [2]. I keep every chunk in an Oracle database "
        "running on a mainframe [1]. The vectors come from all-MiniLM-L6-v2 with 384 dimensions [1].",
        CHUNKING,
    ),
    (
        "I built my first feature store in 2009 for a bank in Singapore [2]. We replicated it across four "
        "continents and served ten million users a day [1]. Every point carries its author, platform and "
        "link in the payload [1].",
        FEATURE_STORE,
    ),
    (
        "My grandmother taught me to rank things when we sorted apples on her farm in Oregon [1]. I won a "
        "Kaggle competition in 2015 with a reranker written in Haskell [2]. Query expansion asks the LLM for "
        "three rephrasings of the question [1].",
        RERANKING,
    ),
    (
        "I wrote ZenML's scheduler myself during a weekend hackathon in Berlin [1]. Our company runs nine "
        "thousand pipelines on a Kubernetes cluster of old gaming laptops [2]. I stopped using caching after "
        "it deleted a production database [2].",
        PIPELINES,
    ),
]


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, as the container builds it by default."""
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


def test_grounded_answers_outscore_invented_ones(minilm: SentenceTransformerEmbedder) -> None:
    checker = EmbeddingSupport(minilm)
    grounded = measure_grounding(GROUNDED, checker)
    invented = measure_grounding(INVENTED, checker)

    assert grounded.citation_precisions == [1.0, 1.0, 1.0, 1.0]
    assert grounded.unsupported_shares == [0.0, 0.0, 0.0, 0.0]
    assert invented.mean_citation_precision == 0.0  # the true statements cite the other passage
    # Only the three true statements (of 13 claims) are supported, by the passage they did not cite.
    assert invented.unsupported_shares == [0.75, 2 / 3, 2 / 3, 1.0]
    assert invented.answers[1] == AnswerGrounding(
        claims=3, cited_claims=3, supported_citations=0, unsupported_claims=2
    )


@pytest.mark.parametrize(
    ("statement", "passage"),
    [
        ("Long functions are kept whole rather than cut across chunks.", CHUNKING[0]),
        ("Datasets for training come from the cleaned collections.", FEATURE_STORE[0]),
        ("Twenty candidates go through the cross-encoder and five survive into the prompt.", RERANKING[0]),
        (
            "If neither the code nor the inputs of a step changed, ZenML reuses its cached output.",
            PIPELINES[1],
        ),
    ],
)
def test_paraphrases_of_a_passage_sentence_are_supported(
    minilm: SentenceTransformerEmbedder, statement: str, passage: str
) -> None:
    assert EmbeddingSupport(minilm).supports([(statement, passage)]) == [True]


@pytest.mark.parametrize(
    ("statement", "passage", "close"),
    [
        ("ZenML caches steps whose code and inputs have not changed.", PIPELINES[0], True),  # the sibling
        ("ZenML caching saved my team two hundred thousand dollars last year.", PIPELINES[1], True),
        ("I invented query expansion in 2012 while at Google.", RERANKING[1], False),
    ],
)
def test_on_topic_statements_the_passage_does_not_make_are_not(
    minilm: SentenceTransformerEmbedder, statement: str, passage: str, close: bool
) -> None:
    checker = EmbeddingSupport(minilm)
    assert checker.supports([(statement, passage)]) == [False]
    # Cosine alone would let the close ones through; the content-word overlap turns them away.
    assert (checker.similarities([(statement, passage)])[0] >= DEFAULT_THRESHOLD) is close


class OverlapChecker:
    """A `SupportChecker` that calls a passage supporting when it uses most of the statement's words."""

    name = "overlap-test"

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def supports(self, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        self.calls.append(list(pairs))
        return [word_overlap(statement, passage) >= 0.5 for statement, passage in pairs]


def test_every_claim_meets_every_passage_in_one_call_of_distinct_pairs() -> None:
    passages = ["Chunks overlap by fifty tokens.", "Qdrant keeps every vector."]
    answers = [
        (
            "Chunks overlap by fifty tokens [2]. Qdrant keeps every vector [2]. Nothing here is true [3].",
            passages,
        ),
        ("Chunks overlap by fifty tokens [1].", passages),  # a pair already asked for the first answer
        ("An answer without any passage to draw on.", []),
    ]
    checker = OverlapChecker()
    summary = measure_grounding(answers, checker)

    assert len(checker.calls) == 1 and len(checker.calls[0]) == len(set(checker.calls[0])) == 6
    assert summary.answers == (
        AnswerGrounding(claims=3, cited_claims=3, supported_citations=1, unsupported_claims=1),
        AnswerGrounding(claims=1, cited_claims=1, supported_citations=1, unsupported_claims=0),
        AnswerGrounding(claims=1, cited_claims=0, supported_citations=0, unsupported_claims=1),
    )
    assert measure_grounding([("Too short.", passages)], checker).answers[0].claims == 0
    assert len(checker.calls) == 1  # nothing to check, nothing asked


def verdict(user: str, attempt: int) -> str:
    """A judge that says yes when the passage mentions Qdrant, no when it mentions Kafka, else rambles."""
    passage = user.split('"""')[1]
    return "Yes." if "Qdrant" in passage else "No, it does not." if "Kafka" in passage else "Hard to say."


class RecordingChatModel(ScriptedChatModel):
    def __init__(self) -> None:
        super().__init__(verdict)
        self.configs: list[GenerationConfig] = []

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.configs.append(config)
        return super().generate(conversations, config)


class ChoiceChatModel(RecordingChatModel):
    """A judge that also scores choices: "Yes" likely when the passage mentions Qdrant."""

    def __init__(self) -> None:
        super().__init__()
        self.choices: list[tuple[str, ...]] = []

    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        self.choices.append(tuple(choices))
        return [
            {"Yes": 0.8, "No": 0.2} if "Qdrant" in c[-1].content.split('"""')[1] else {"Yes": 0.3, "No": 0.7}
            for c in conversations
        ]


PAIRS = [
    ("Vectors live in Qdrant.", "We keep the vectors in Qdrant."),
    ("Vectors live in Qdrant.", "Events stream through Kafka."),
    ("Vectors live in Qdrant.", "Something else entirely."),
]


def test_the_judge_is_asked_once_greedily_and_its_yes_or_no_read() -> None:
    judge = RecordingChatModel()
    checker = JudgeSupport(judge)

    assert checker.supports(PAIRS) == [True, False, False]
    assert judge.batches == [3] and judge.configs[0].temperature == 0.0
    assert "Statement: Vectors live in Qdrant." in judge.asked[0]
    assert checker.unreadable == 1  # "Hard to say." counts as not supported, and is counted
    checker.supports(PAIRS[2:])
    assert checker.unreadable == 2
    assert checker.supports([]) == [] and judge.batches == [3, 1]


def test_a_judge_that_scores_choices_is_read_from_its_probabilities() -> None:
    judge = ChoiceChatModel()
    checker = JudgeSupport(judge)

    assert checker.supports(PAIRS) == [True, False, False]
    assert judge.choices == [("Yes", "No")] and judge.batches == [] and checker.unreadable == 0
    assert JudgeSupport(judge, choices=False).supports(PAIRS) == [True, False, False]
    assert judge.batches == [3]
