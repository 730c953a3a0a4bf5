from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from llm_engineering.application.evaluating import (
    Contestants,
    EvaluationSetup,
    evaluate_candidate,
    evaluate_models,
    promote_evaluated,
)
from llm_engineering.application.evaluation_config import EvaluationConfig, ReferenceMetrics
from llm_engineering.application.judging import judge_answers, judge_pairwise
from llm_engineering.application.scoring import answer_questions
from llm_engineering.application.serving import ServedFrom, ServedModel
from llm_engineering.domain.exceptions import RegistryError, TwinError
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT, Completion, Conversation, GenerationConfig
from llm_engineering.domain.registry import Key, Stage
from llm_engineering.infrastructure.text_overlap import bleu, rouge_l
from tests.support.fakes import HashingEmbedder, InMemoryRegistry, InMemoryVectorIndex, ScriptedChatModel

TOPICS = ["retries", "chunk overlap", "payload indexes", "evaluation sets", "batching", "caching"]
CONFIG = EvaluationConfig(batch_size=4, max_retries=2)


def reference(topic: str) -> str:
    return f"I keep {topic} boring: one rule, one log line, one test, and {topic} stops surprising me."


def instruction(topic: str) -> str:
    return f"How do you handle {topic}?"


SAMPLES = [(instruction(t), reference(t)) for t in TOPICS]


def twin(user: str, attempt: int) -> str:
    """A twin that answers in the author's words."""
    topic = user.removeprefix("How do you handle ").removesuffix("?")
    return reference(topic)


def generic(user: str, attempt: int) -> str:
    return f"Great question! There are many best practices for {user.lower()} It depends on your needs."


class RecordingChatModel(ScriptedChatModel):
    """A scripted model that also keeps every conversation it was given."""

    def __init__(self, answer: Callable[[str, int], str]) -> None:
        super().__init__(answer)
        self.conversations: list[Conversation] = []

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.conversations.extend(conversations)
        return super().generate(conversations, config)


def scored(user: str) -> str:
    return user.split("Answer to score:")[1]


def judge(user: str, attempt: int) -> str:
    """Scores the author's words 3/3 and generic prose 2/1, with messy but readable output."""
    if "Answer to score:" not in user:
        return pairwise_judge(user, attempt)
    if "I keep" in scored(user):
        return 'Sure!\n```json\n{"accuracy": 3, "style": 3, "reason": "Sounds like the author.",}\n```'
    return "Accuracy: 2\nStyle: 1\nReason: Generic assistant prose."


def pairwise_judge(user: str, attempt: int) -> str:
    """Prefers whichever answer holds the author's words, in whatever position it is shown."""
    first = user.split("Answer A:")[1].split("Answer B:")[0]
    return "A" if "I keep" in first else "Answer B is better."


def test_answers_are_asked_in_batches_under_the_twins_system_prompt() -> None:
    model = RecordingChatModel(twin)
    answers = answer_questions(model, [instruction(t) for t in TOPICS], CONFIG)
    assert answers == [reference(t) for t in TOPICS]
    assert model.batches == [4, 2]
    assert all(c[0].role == "system" and c[0].content == TWIN_SYSTEM_PROMPT for c in model.conversations)
    assert [c[1].content for c in model.conversations] == [instruction(t) for t in TOPICS]


def test_only_malformed_judgements_are_asked_again_and_hopeless_ones_are_reported() -> None:
    def flaky(user: str, attempt: int) -> str:
        if "caching" in scored(user):
            return "It is fine, I guess."  # never gives scores
        if "batching" in scored(user) and attempt == 0:
            return '{"accuracy": 3, "style": '  # cut off by the token limit
        return judge(user, attempt)

    chat = ScriptedChatModel(flaky)
    answers = [twin(instruction(t), 0) for t in TOPICS]
    results = judge_answers(chat, [i for i, _ in SAMPLES], answers, [r for _, r in SAMPLES], CONFIG)
    assert sorted(results.judgements) == [0, 1, 2, 3, 4] and list(results.failures) == [5]
    assert "No accuracy and style score" in results.failures[5]
    assert {(j.accuracy, j.style) for j in results.judgements.values()} == {(3, 3)}
    assert results.judgements[4].reason == "Sounds like the author."
    # First pass over six answers, then two re-asked (batching and caching), then caching alone.
    assert chat.batches == [4, 2, 2, 1]
    assert results.usage.calls == 9


def test_the_judge_prompt_carries_instruction_reference_and_answer() -> None:
    chat = RecordingChatModel(judge)
    judge_answers(chat, [instruction("retries")], ["My answer."], [reference("retries")], CONFIG)
    [system, user] = chat.conversations[0]
    assert "accuracy" in system.content and "not generic assistant prose" in system.content
    assert instruction("retries") in user.content and reference("retries") in user.content
    assert "My answer." in user.content


def test_pairwise_order_is_randomised_but_the_better_model_always_wins() -> None:
    chat = RecordingChatModel(pairwise_judge)
    topics = TOPICS * 3
    candidate = [reference(t) for t in topics]
    other = [generic(instruction(t), 0) for t in topics]
    results = judge_pairwise(
        chat, [instruction(t) for t in topics], [reference(t) for t in topics], (candidate, other), CONFIG
    )
    assert set(results.outcomes.values()) == {"candidate"} and results.win_rate() == 1.0
    shown_first = [c[1].content.split("Answer A:")[1].split("Answer B:")[0] for c in chat.conversations]
    positions = {"I keep" in first for first in shown_first}
    assert positions == {True, False}  # the candidate was shown first for some pairs and second for others
    reversed_results = judge_pairwise(
        chat, [instruction(t) for t in topics], [reference(t) for t in topics], (other, candidate), CONFIG
    )
    assert set(reversed_results.outcomes.values()) == {"other"}


OVERLAP: ReferenceMetrics = {"rouge_l": rouge_l, "bleu": bleu}


def fixed_metrics(value: float) -> ReferenceMetrics:
    return {"rouge_l": lambda p, r: value, "bleu": lambda p, r: value}


def test_a_candidate_in_the_authors_voice_beats_a_generic_production_model() -> None:
    models = Contestants(
        candidate=ScriptedChatModel(twin),
        judge=ScriptedChatModel(judge),
        production=ScriptedChatModel(generic),
    )
    report = evaluate_models(models, SAMPLES, OVERLAP, CONFIG)
    candidate, production = report.scores
    assert (candidate.model, candidate.judge_accuracy, candidate.judge_style) == ("candidate", 3.0, 3.0)
    assert (production.model, production.judge_accuracy, production.judge_style) == ("production", 2.0, 1.0)
    assert candidate.win_rate == 1.0 and production.win_rate is None
    assert candidate.reference == {"rouge_l": 1.0, "bleu": 1.0} and production.reference["rouge_l"] < 0.3
    assert candidate.samples == candidate.judged == len(TOPICS)
    assert candidate.answer_words == sum(len(reference(t).split()) for t in TOPICS) / len(TOPICS)
    assert report.decision.promote and "3.000" in report.decision.reason
    row = report.rows[0]
    assert (row.instruction, row.reference) == SAMPLES[0]
    assert row.answers == {
        "candidate": reference("retries"),
        "production": generic(instruction("retries"), 0),
    }
    assert row.judgements["production"].style == 1 and row.pairwise == "candidate"
    assert report.judge_usage.calls == 3 * len(TOPICS)


def test_without_production_the_candidate_is_promoted_and_max_samples_applies() -> None:
    models = Contestants(candidate=ScriptedChatModel(generic), judge=ScriptedChatModel(judge))
    config = CONFIG.model_copy(update={"max_samples": 2})
    report = evaluate_models(models, SAMPLES, fixed_metrics(0.25), config)
    [scores] = report.scores
    assert scores.win_rate is None and scores.samples == 2 and scores.reference["rouge_l"] == 0.25
    assert report.decision.promote and "No production model" in report.decision.reason
    assert len(report.rows) == 2 and report.rows[0].pairwise is None


def test_a_judge_that_never_scores_fails_the_evaluation_with_its_reasons() -> None:
    models = Contestants(
        candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(lambda u, a: "Nice answer!")
    )
    with pytest.raises(TwinError, match=r"scored none of the 6 answers of candidate.*No accuracy and style"):
        evaluate_models(models, SAMPLES, fixed_metrics(0.5), CONFIG)


def test_an_empty_test_split_is_refused() -> None:
    models = Contestants(candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(judge))
    with pytest.raises(TwinError, match="test split is empty"):
        evaluate_models(models, [], fixed_metrics(0.5), CONFIG)


class ChoiceJudge(ScriptedChatModel):
    """A judge that scores by choice probabilities: likely 3 for the author's words, likely 1 otherwise,
    and in pairs the position that holds the author's words."""

    def __init__(self) -> None:
        super().__init__(lambda user, attempt: "unused")
        self.choices: list[tuple[str, ...]] = []

    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        self.choices.append(tuple(choices))
        return [self._chances(conversation[-1].content, choices) for conversation in conversations]

    def _chances(self, user: str, choices: Sequence[str]) -> dict[str, float]:
        if tuple(choices) == ("A", "B"):
            first = user.split("Answer A:")[1].split("Answer B:")[0]
            return {"A": 0.7, "B": 0.3} if "I keep" in first else {"A": 0.4, "B": 0.6}
        authors = "I keep" in user.split("Answer to grade:")[1]
        return {"1": 0.1, "2": 0.1, "3": 0.8} if authors else {"1": 0.6, "2": 0.4, "3": 0.0}


def test_choice_judging_scores_expected_values_and_decides() -> None:
    judge = ChoiceJudge()
    models = Contestants(
        candidate=ScriptedChatModel(twin), judge=judge, production=ScriptedChatModel(generic)
    )
    config = CONFIG.model_copy(update={"judge_mode": "choice"})
    report = evaluate_models(models, SAMPLES, OVERLAP, config)
    candidate, production = report.scores
    assert candidate.judge_accuracy == pytest.approx(2.7) and candidate.judge_style == pytest.approx(2.7)
    assert production.judge_accuracy == pytest.approx(1.4) and candidate.win_rate == 1.0
    assert report.decision.promote and candidate.judged == len(TOPICS)
    assert "p(3)=0.80" in report.rows[0].judgements["candidate"].reason
    # Two criteria for each of two models, then one pairwise round; the judge never generated text.
    assert judge.choices == [("1", "2", "3")] * 4 + [("A", "B")] and judge.asked == []


def test_choice_judging_needs_a_backend_that_scores_choices() -> None:
    models = Contestants(candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(judge))
    config = CONFIG.model_copy(update={"judge_mode": "choice"})
    with pytest.raises(TwinError, match=r"cannot score choices.*judge_mode: generate"):
        evaluate_models(models, SAMPLES, fixed_metrics(0.5), config)


class FolderLoader:
    """A `ModelLoader` whose models answer by the folder they were loaded from: the author's words for
    a folder named `twin`, generic prose for any other; records what it loaded."""

    def __init__(self) -> None:
        self.loaded: list[tuple[str, str]] = []

    def load(self, model_dir: Path, label: str) -> ScriptedChatModel:
        self.loaded.append((model_dir.name, label))
        model = ScriptedChatModel(twin if model_dir.name == "twin" else generic)
        model.model_id = label
        return model

    def base(self, label: str) -> ScriptedChatModel:
        return self.load(Path("base"), label)


def setup_for(registry: InMemoryRegistry, loader: FolderLoader, served: ServedModel) -> EvaluationSetup:
    return EvaluationSetup(
        registry=registry,
        loader=loader,
        judge=ScriptedChatModel(judge),
        served=served,
        metrics=OVERLAP,
        index=InMemoryVectorIndex(),
        embedder=HashingEmbedder(),
    )


NO_RETRIEVAL = CONFIG.model_copy(update={"retrieval_queries": 0})


def test_the_newest_version_is_judged_against_the_served_one_and_its_metrics_go_on_record() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    registry.register(Path("/models/generic"))
    production = registry.promote(1, Stage.PRODUCTION, "first")
    registry.register(Path("/models/twin"))
    served = ServedModel(source=ServedFrom.PRODUCTION, model_dir=Path("/models/generic"), version=production)

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    assert loader.loaded == [("twin", "candidate v2"), ("generic", "production"), ("base", "base")]
    assert report.candidate_version == 2 and report.decision.promote
    logged = registry.get(2).metrics
    assert logged == report.candidate_metrics() and logged["judge_score"] == 3.0 and logged["rouge_l"] == 1.0
    assert registry.get(2).metadata[Key.METRICS]["win_rate"] == 1.0 and registry.get(1).metrics == {}

    assert promote_evaluated(registry, report) is Stage.PRODUCTION
    assert registry.production() == registry.get(2) and registry.get(2).metadata[Key.PREVIOUS_PRODUCTION] == 1


def test_a_losing_candidate_is_staged_with_the_reason_on_record() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    registry.register(Path("/models/twin"))
    production = registry.promote(1, Stage.PRODUCTION, "first")
    registry.register(Path("/models/generic"))
    served = ServedModel(source=ServedFrom.PRODUCTION, model_dir=Path("/models/twin"), version=production)

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    assert not report.decision.promote
    assert promote_evaluated(registry, report) is Stage.STAGING
    assert registry.production() == registry.get(1)
    assert registry.get(2).metadata[Key.PROMOTION_REASON] == report.decision.reason


def test_with_the_backend_fallback_serving_there_is_nothing_to_beat() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    registry.register(Path("/models/generic"))
    served = ServedModel(source=ServedFrom.BACKEND)

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    assert [label for _, label in loader.loaded] == ["candidate v1", "base"]
    assert report.decision.promote and "No production model" in report.decision.reason


def test_the_production_version_is_not_evaluated_against_itself() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    registry.register(Path("/models/twin"))
    production = registry.promote(1, Stage.PRODUCTION, "first")
    served = ServedModel(source=ServedFrom.PRODUCTION, model_dir=Path("/models/twin"), version=production)

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    assert [label for _, label in loader.loaded] == ["candidate v1", "base"]
    assert [scores.model for scores in report.scores] == ["candidate", "base"]


def test_a_version_without_a_model_folder_or_a_report_without_a_version_is_refused() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    registry.register()
    with pytest.raises(RegistryError, match="no logged model_dir"):
        evaluate_candidate(
            setup_for(registry, loader, ServedModel(source=ServedFrom.BACKEND)), SAMPLES, CONFIG
        )
    report = evaluate_models(
        Contestants(candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(judge)),
        SAMPLES,
        OVERLAP,
        CONFIG,
    )
    with pytest.raises(TwinError, match="names no candidate version"):
        promote_evaluated(registry, report)


def test_logged_metrics_are_scores_not_how_retrieval_was_measured() -> None:
    models = Contestants(candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(judge))
    report = evaluate_models(models, SAMPLES, fixed_metrics(0.5), CONFIG).model_copy(
        update={"retrieval": {"hit_at_k": 0.75, "mrr": 0.5, "k": 5, "queries": 4}}
    )
    assert report.candidate_metrics() == {
        "judge_score": 3.0,
        "rouge_l": 0.5,
        "bleu": 0.5,
        "retrieval_hit_at_k": 0.75,
        "retrieval_mrr": 0.5,
    }
