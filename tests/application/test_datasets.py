import re
from uuid import uuid4

import pytest

from llm_engineering.application.datasets import DatasetConfig, generate_dataset, read_cleaned_documents
from llm_engineering.application.features import FeatureConfig, update_feature_store
from llm_engineering.application.generation import generate_parsed
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain.dataset_answers import parse_answer, parse_instruction
from llm_engineering.domain.datasets import DatasetType, PreferenceSample
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import CleanedDocument, Section
from llm_engineering.domain.generation import GenerationConfig
from llm_engineering.infrastructure.near_duplicates import near_duplicate_indices
from tests.support.fakes import HashingEmbedder, InMemoryStore, InMemoryVectorIndex, ScriptedChatModel

TOPICS = [
    "retries",
    "chunk overlap",
    "payload indexes",
    "evaluation sets",
    "small models",
    "batching",
    "caching",
]


def passage(topic: str) -> str:
    # The topic recurs every few words, so passages about different topics share no 8-word n-gram.
    return (
        f"When I think about {topic}, {topic} is where I start. My {topic} broke twice, so {topic} "
        f"got a limit; then {topic} got a log line, and {topic} got a test."
    )


def document(topic: str, category: DataCategory = DataCategory.ARTICLES) -> CleanedDocument:
    return CleanedDocument(
        id=uuid4(),
        category=category,
        sections=[Section(name="article", text=passage(topic))],
        platform="blog",
        author_id=uuid4(),
        author_full_name="Iris Calder",
        link=f"https://iris.dev/{topic}",
        content_hash="h",
    )


def topic_of(prompt: str) -> str:
    return re.search(r"think about (.+?),", prompt).group(1)  # type: ignore[union-attr]


def answers(user: str, attempt: int) -> str:
    """Instructions for passages, with one passage answered badly once; generic answers for instructions."""
    if "Write one question" in user:
        topic = topic_of(user)
        if topic == "retries" and attempt == 0:
            return "Sure!"
        return f'{{"instruction": "How do you approach {topic} in a data pipeline?"}}'
    return (
        f"A generic answer: {user} depends on many factors, and best practices vary between teams and tools."
    )


CONFIG = DatasetConfig(test_split_size=0.25, window_min_chars=50)


@pytest.mark.parametrize("template", ["instruction_v1", "instruction_v2"])
def test_prompts_carry_the_passage_and_its_author(template: str) -> None:
    [system, user] = render_conversation(
        template, passage=passage("batching"), author="Iris Calder", category="articles"
    )
    assert passage("batching") in user.content and "Iris Calder" in user.content
    assert system.role == "system" and "question" in system.content


def test_only_malformed_answers_are_asked_again() -> None:
    chat = ScriptedChatModel(answers)
    conversations = [
        render_conversation("instruction_v2", passage=passage(t), author="Iris Calder") for t in TOPICS
    ]
    parsed, usage, failures, _ = generate_parsed(
        chat,
        conversations,
        lambda i, text: parse_instruction(text),
        GenerationConfig(),
        batch_size=3,
        max_retries=2,
    )
    assert failures == {} and len(parsed) == len(TOPICS)
    assert parsed[0] == "How do you approach retries in a data pipeline?"
    assert chat.batches == [3, 3, 1, 1]  # the retry batch holds the one bad answer only
    assert usage.calls == len(TOPICS) + 1


def test_answers_that_never_parse_are_dropped_and_reported() -> None:
    chat = ScriptedChatModel(lambda user, attempt: "" if "retries" in user else answers(user, attempt))
    conversations = [render_conversation("answer_v1", instruction=t) for t in ["retries", "batching"]]
    parsed, _, failures, _ = generate_parsed(
        chat, conversations, lambda i, text: parse_answer(text), GenerationConfig(), 8, max_retries=1
    )
    assert list(failures) == [0] and list(parsed) == [1]
    assert chat.asked.count(conversations[0][-1].content) == 2


def test_instruction_dataset_pairs_generated_instructions_with_the_authors_text() -> None:
    documents = [document(t) for t in TOPICS]
    dataset, report = generate_dataset(
        documents, ScriptedChatModel(answers), DatasetType.INSTRUCTION, CONFIG, near_duplicate_indices
    )
    samples = dataset.train + dataset.test
    assert {s.output for s in samples} <= {passage(t) for t in TOPICS}
    assert all(s.instruction.startswith("How do you approach") for s in samples)
    assert len(dataset.test) >= 1 and report.passages == len(TOPICS)
    assert report.usage.calls == len(TOPICS) + 1 and report.malformed == 0


def test_preference_dataset_rejects_the_generic_answer() -> None:
    dataset, _ = generate_dataset(
        [document(t) for t in TOPICS],
        ScriptedChatModel(answers),
        DatasetType.PREFERENCE,
        CONFIG,
        near_duplicate_indices,
    )
    sample = (dataset.train + dataset.test)[0]
    assert isinstance(sample, PreferenceSample)
    assert sample.chosen == passage(topic_of(sample.chosen)) and sample.rejected.startswith(
        "A generic answer"
    )


def test_duplicated_passages_are_removed_and_counted() -> None:
    documents = [document("batching"), document("batching"), document("caching")]
    dataset, report = generate_dataset(
        documents, ScriptedChatModel(answers), DatasetType.INSTRUCTION, CONFIG, near_duplicate_indices
    )
    assert report.filtered["exact_duplicates"] == 1
    assert len(dataset.train) + len(dataset.test) == 2


def test_the_judge_threshold_drops_low_scores() -> None:
    def judged(user: str, attempt: int) -> str:
        if user.startswith("Instruction:"):
            return "3" if "caching" in user else "Score: 1"
        return answers(user, attempt)

    config = CONFIG.model_copy(update={"judge_threshold": 2})
    dataset, report = generate_dataset(
        [document(t) for t in TOPICS],
        ScriptedChatModel(judged),
        DatasetType.INSTRUCTION,
        config,
        near_duplicate_indices,
    )
    assert [s.instruction for s in dataset.train + dataset.test] == [
        "How do you approach caching in a data pipeline?"
    ]
    assert report.filtered["judge"] == len(TOPICS) - 1


def test_cleaned_documents_are_read_back_from_the_feature_store() -> None:
    store = InMemoryStore()
    index = InMemoryVectorIndex()
    user = store.get_or_create_user("Iris", "Calder")
    from llm_engineering.domain.documents import ArticleDocument

    store.insert(
        ArticleDocument(
            content={"title": "T", "body": passage("retries")},
            platform="blog",
            author_id=user.id,
            author_full_name=user.full_name,
            link="https://iris.dev/r",
        )
    )
    update_feature_store(store, index, HashingEmbedder(), ["Iris Calder"], FeatureConfig())
    [cleaned] = read_cleaned_documents(index)
    assert passage("retries") in cleaned.content and cleaned.link == "https://iris.dev/r"


def test_bad_split_size_is_refused() -> None:
    with pytest.raises(ValueError):
        DatasetConfig(test_split_size=1.0)


class PrefillingChatModel(ScriptedChatModel):
    """Continues the answer prefix, as local engines do: the answer starts with it."""

    def __init__(self) -> None:
        super().__init__(lambda user, _: f"does {topic_of(user)} change in a pipeline?")
        self.prefixes: list[str] = []

    def generate(self, conversations, config):  # type: ignore[no-untyped-def]
        self.prefixes += [config.answer_prefix] * len(conversations)
        return [
            c.model_copy(update={"text": f"{config.answer_prefix} {c.text}"})
            for c in super().generate(conversations, config)
        ]


def test_each_passage_gets_instructions_started_with_the_start_words_in_turn() -> None:
    chat = PrefillingChatModel()
    config = CONFIG.model_copy(update={"instructions_per_passage": 2, "instruction_starts": ("How", "Why")})
    dataset, report = generate_dataset(
        [document(t) for t in TOPICS[:4]], chat, DatasetType.INSTRUCTION, config, near_duplicate_indices
    )
    samples = [*dataset.train, *dataset.test]
    assert sorted(chat.prefixes) == ["How"] * 4 + ["Why"] * 4
    assert report.instructions_asked == 4 and report.first_try_parsed == 4  # the Why/How ones come second
    assert {s.instruction.split()[0] for s in samples} == {"How", "Why"}
    assert not any(report.filtered.values()), report.filtered
    for topic in TOPICS[:4]:  # both questions of a passage are kept, each paired with its passage
        assert len([s for s in samples if topic in s.instruction]) == 2


def test_several_samples_per_passage_give_distinct_instructions_without_a_retry() -> None:
    """Each call answers differently (the fake varies with how often it was asked), as sampling does."""
    chat = ScriptedChatModel(lambda user, asked: f"How does {topic_of(user)} change after {asked + 1} runs?")
    config = CONFIG.model_copy(update={"instructions_per_passage": 2, "instruction_samples": 3})
    dataset, report = generate_dataset(
        [document(t) for t in TOPICS[:4]], chat, DatasetType.INSTRUCTION, config, near_duplicate_indices
    )
    samples = [*dataset.train, *dataset.test]
    assert report.instructions_asked == 12 and report.first_try_parsed == 12 and report.malformed == 0
    assert sum(chat.batches) == 12  # each passage asked three times, once per sample: no retry
    for topic in TOPICS[:4]:
        assert sorted(s.instruction for s in samples if topic in s.instruction) == [
            f"How does {topic} change after {n} runs?" for n in (1, 2)
        ]
