import re

import pytest

from llm_engineering.domain.dataset_answers import parse_answer, parse_instruction
from llm_engineering.domain.datasets import MalformedAnswerError

PASSAGE = (
    "The warehouse keeps every document under its link, so a second crawl of the same page updates it "
    "instead of adding a copy. That keeps the counts honest.\n\n"
    "Re-running the pipeline is therefore safe at any time."
)

GOOD = {
    "plain JSON": (
        '{"instruction": "Explain why the cache is keyed by content hash."}',
        "Explain why the cache is keyed by content hash.",
    ),
    "JSON with trailing text": (
        '{"instruction": "What is a feature store for?"}\n\nI hope this helps! Let me know if you need more.',
        "What is a feature store for?",
    ),
    "JSON with text before": (
        'Here is the JSON you asked for: {"instruction": "Describe how chunks are embedded."}',
        "Describe how chunks are embedded.",
    ),
    "fenced JSON": (
        '```json\n{\n  "instruction": "Describe how chunks are embedded."\n}\n```',
        "Describe how chunks are embedded.",
    ),
    "JSON list": (
        '[{"instruction": "List the steps of the ETL pipeline."}]',
        "List the steps of the ETL pipeline.",
    ),
    "JSON under another single key": (
        '{"request": "Summarise the crawl report format."}',
        "Summarise the crawl report format.",
    ),
    "JSON cut off": (
        '{"instruction": "Explain the retry policy for HTTP crawls',
        "Explain the retry policy for HTTP crawls",
    ),
    "Python dict": (
        "{'instruction': 'Explain the retry policy for HTTP crawls.'}",
        "Explain the retry policy for HTTP crawls.",
    ),
    "quote inside a Python dict": (
        "{'instruction': 'Explain what \"idempotent\" means for crawls.'}",
        'Explain what "idempotent" means for crawls.',
    ),
    "chatty inline label": (
        "Sure! Here is the instruction: Write a short post about testing pipelines.",
        "Write a short post about testing pipelines.",
    ),
    "chatty label on its own line": (
        "Sure! Here is the instruction:\n\nWrite a short post about testing pipelines.",
        "Write a short post about testing pipelines.",
    ),
    "preamble then curly-quoted text": (
        "Here's an instruction for this passage:\n\u201cHow do you keep crawlers polite?\u201d",
        "How do you keep crawlers polite?",
    ),
    "numbered list": (
        "1. What is Qdrant used for?\n2. How do embeddings work?\n3. Why chunk documents?",
        "What is Qdrant used for?",
    ),
    "bullet": ("- Explain the ETL pipeline in detail.", "Explain the ETL pipeline in detail."),
    "label line then answer": (
        "Instruction: Summarize the trade-offs of local mode.\nAnswer: It is fast but single-process.",
        "Summarize the trade-offs of local mode.",
    ),
    "bold label": ("**Instruction:** Explain the retry policy.", "Explain the retry policy."),
    "heading label": (
        "### Instruction\nExplain the ETL pipeline in detail.",
        "Explain the ETL pipeline in detail.",
    ),
    "Q label": ("Q: What is the point of a feature store?", "What is the point of a feature store?"),
    "quoted plain text": (
        '"Compare MongoDB and SQLite for local development."',
        "Compare MongoDB and SQLite for local development.",
    ),
    "request after a leading phrase": (
        "In two paragraphs, explain why tests use real servers.",
        "In two paragraphs, explain why tests use real servers.",
    ),
    "question without a request word": (
        "Warehouse or feature store, which one holds raw text?",
        "Warehouse or feature store, which one holds raw text?",
    ),
    "chat template tokens": (
        "<|im_start|>assistant\nExplain the crawl report to me.<|im_end|>",
        "Explain the crawl report to me.",
    ),
    "a short quote of the passage inside a question": (
        "What does the author mean by 'counts honest'?",
        "What does the author mean by 'counts honest'?",
    ),
}


# The passage the GOOD instructions are checked against: PASSAGE plus, as a word list, every content word
# they use, so each one is on topic while none of them is an echo.
ON_TOPIC = (
    PASSAGE
    + "\n\nTopics: "
    + ", ".join(
        sorted({w for _, instruction in GOOD.values() for w in re.findall(r"[A-Za-z]{5,}", instruction)})
    )
)


@pytest.mark.parametrize(("answer", "instruction"), GOOD.values(), ids=GOOD.keys())
def test_instruction_is_extracted(answer: str, instruction: str) -> None:
    assert parse_instruction(answer, ON_TOPIC) == instruction


MALFORMED = {
    "empty": ("", "no instruction"),
    "whitespace": ("  \n\n ", "no instruction"),
    "only a preamble": ("Sure!", "no instruction"),
    "empty JSON value": ('{"instruction": ""}', "no instruction"),
    "too short": ("Explain caching.", "under 3"),
    "too long": ("Explain " + " ".join(["this"] * 60) + ".", "over 60"),
    "a statement": ("The cache is keyed by the content hash of each document.", "neither a question"),
    "a statement in JSON": ('{"instruction": "This passage is about crawling."}', "neither a question"),
    "the passage echoed back": (PASSAGE, "repeats the passage"),
    "a question about the unseen text": ("What is this text about?", "refers to a text"),
    "the prompt echoed": (
        'Why this text answers what? "Write one question that this text answers."',
        "refers",
    ),
    "a question about the passage": ("How does the passage describe crawling?", "refers to a text"),
    "the passage's first sentence as the instruction": (
        "Instruction: The warehouse keeps every document under its link, so a second crawl updates it.",
        "repeats the passage",
    ),
}


@pytest.mark.parametrize(("answer", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_instruction_is_refused_with_a_reason(answer: str, reason: str) -> None:
    with pytest.raises(MalformedAnswerError, match=reason) as raised:
        parse_instruction(answer, PASSAGE)
    assert reason in raised.value.reason


def test_echo_is_only_judged_against_a_given_passage() -> None:
    copied = "Use the warehouse link as the key, so a second crawl of the same page updates it."
    assert parse_instruction(copied) == copied
    with pytest.raises(MalformedAnswerError, match="repeats"):
        parse_instruction(
            copied, "Use the warehouse link as the key, so a second crawl of the same page updates it"
        )


@pytest.mark.parametrize(
    ("answer", "cleaned"),
    [
        ("  The warehouse keys documents by link.  ", "The warehouse keys documents by link."),
        ("Answer: The warehouse keys documents by link.", "The warehouse keys documents by link."),
        ("**Answer:** Crawls update, they never duplicate.", "Crawls update, they never duplicate."),
        ("Response:\nFirst line.\n\nSecond paragraph stays.", "First line.\n\nSecond paragraph stays."),
        ("The answer: keep it.  Answer: kept inside.", "The answer: keep it.  Answer: kept inside."),
        ("Crawls update documents in place.<|im_end|>", "Crawls update documents in place."),
    ],
)
def test_answer_is_cleaned(answer: str, cleaned: str) -> None:
    assert parse_answer(answer) == cleaned


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty"),
        ("Answer:   ", "empty"),
        ("Too few words here.", "under 5"),
        ("Answer: Yes, it does.", "under 5"),
    ],
)
def test_malformed_answer_is_refused(answer: str, reason: str) -> None:
    with pytest.raises(MalformedAnswerError, match=reason):
        parse_answer(answer)


def test_an_instruction_about_nothing_in_the_passage_is_refused() -> None:
    passage = "Retries need a limit, or a broken service gets called forever."
    with pytest.raises(MalformedAnswerError, match="shares no content word"):
        parse_instruction("What, how, why or why not?", passage)
    assert parse_instruction("Why do retries need a limit?", passage) == "Why do retries need a limit?"
