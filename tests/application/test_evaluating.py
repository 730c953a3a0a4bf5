from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.evaluating import (
    Contestants,
    EvaluationSetup,
    evaluate_candidate,
    evaluate_models,
    promote_evaluated,
)
from llm_engineering.application.evaluation_config import EvaluationConfig, ReferenceMetrics
from llm_engineering.application.grounding import EmbeddingSupport
from llm_engineering.application.judging import judge_answers, judge_pairwise
from llm_engineering.application.ports import ChatModel
from llm_engineering.application.retrieval import HybridReranker, RetrievalConfig, Retriever
from llm_engineering.application.scoring import answer_questions
from llm_engineering.application.serving import ServedFrom, ServedModel
from llm_engineering.domain.bootstrap import Interval
from llm_engineering.domain.exceptions import RegistryError, TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT, Completion, Conversation, GenerationConfig
from llm_engineering.domain.promotion import Verdict
from llm_engineering.domain.registry import Key, Stage
from llm_engineering.infrastructure.style_verifier import CharNgramVerifier
from llm_engineering.infrastructure.text_overlap import bleu, rouge_l
from tests.support import rag
from tests.support.fakes import HashingEmbedder, InMemoryRegistry, InMemoryVectorIndex, ScriptedChatModel

# Twelve held-out samples: enough for a bootstrap interval of a style difference to mean something.
TOPICS = [
    "retries",
    "chunk overlap",
    "payload indexes",
    "evaluation sets",
    "batching",
    "caching",
    "timeouts",
    "schema changes",
    "flaky tests",
    "logging",
    "feature flags",
    "rate limits",
]
CONFIG = EvaluationConfig(batch_size=4, max_retries=2)


def reference(topic: str) -> str:
    return f"I keep {topic} boring: one rule, one log line, one test, and {topic} stops surprising me."


def instruction(topic: str) -> str:
    return f"How do you handle {topic}?"


SAMPLES = [(instruction(t), reference(t)) for t in TOPICS]


def topic_of(user: str) -> str:
    return user.removeprefix("How do you handle ").removesuffix("?")


def twin(user: str, attempt: int) -> str:
    """A twin that answers in the author's words."""
    return reference(topic_of(user))


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


def write_question(user: str, attempt: int) -> str:
    """A question on the passage's first five words, as a judge writes retrieval questions."""
    passage = user.split("Text by the author:")[1].split("Write one question")[0].strip()
    return f'{{"instruction": "Why {" ".join(passage.split()[:5])}?"}}'


def judge(user: str, attempt: int) -> str:
    """Scores the author's words 3/3 and generic prose 2/1, with messy but readable output; writes
    retrieval questions when asked."""
    if "Text by the author:" in user:
        return write_question(user, attempt)
    if "Answer to score:" not in user:
        return pairwise_judge(user, attempt)
    if "I keep" in scored(user):
        return 'Sure!\n```json\n{"accuracy": 3, "style": 3, "reason": "Sounds like the author.",}\n```'
    return "Accuracy: 2\nStyle: 1\nReason: Generic assistant prose."


def pairwise_judge(user: str, attempt: int) -> str:
    """Prefers whichever answer holds the author's words, in whatever position it is shown."""
    first = user.split("Answer A:")[1].split("Answer B:")[0]
    return "A" if "I keep" in first else "Answer B is better."


def indifferent_judge(user: str, attempt: int) -> str:
    """Scores every answer 2/2 and calls every pair a tie: only the style verifier tells models apart."""
    return "Accuracy: 2\nStyle: 2\nReason: Fine." if "Answer to score:" in user else "Tie"


def test_answers_are_asked_in_batches_under_the_twins_system_prompt() -> None:
    model = RecordingChatModel(twin)
    answers = answer_questions(model, [instruction(t) for t in TOPICS], CONFIG)
    assert answers == [reference(t) for t in TOPICS]
    assert model.batches == [4, 4, 4]
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
    caching = TOPICS.index("caching")
    assert sorted(results.judgements) == [n for n in range(len(TOPICS)) if n != caching]
    assert list(results.failures) == [caching]
    assert "No accuracy and style score" in results.failures[caching]
    assert {(j.accuracy, j.style) for j in results.judgements.values()} == {(3, 3)}
    assert results.judgements[TOPICS.index("batching")].reason == "Sounds like the author."
    # First pass over twelve answers, then two re-asked (batching and caching), then caching alone.
    assert chat.batches == [4, 4, 4, 2, 1]
    assert results.usage.calls == 15


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
    # The base model writes generic prose, as an instruction-tuned model does before fine-tuning.
    models = Contestants(
        candidate=ScriptedChatModel(twin),
        judge=ScriptedChatModel(judge),
        production=ScriptedChatModel(generic),
        base=ScriptedChatModel(generic),
    )
    report = evaluate_models(models, SAMPLES, OVERLAP, CONFIG, CharNgramVerifier())
    candidate, production, base = report.scores
    assert (candidate.model, candidate.judge_accuracy, candidate.judge_style) == ("candidate", 3.0, 3.0)
    assert (production.model, production.judge_accuracy, production.judge_style) == ("production", 2.0, 1.0)
    assert candidate.win_rate == 1.0 and production.win_rate is None and base.model == "base"
    assert candidate.reference == {"rouge_l": 1.0, "bleu": 1.0} and production.reference["rouge_l"] < 0.3
    assert candidate.samples == candidate.judged == len(TOPICS)
    assert candidate.answer_words == sum(len(reference(t).split()) for t in TOPICS) / len(TOPICS)
    # Every candidate answer reads as the author's and no production answer does.
    assert candidate.style == Interval(estimate=1.0, low=1.0, high=1.0, n=len(TOPICS))
    assert production.style is not None and production.style.estimate == 0.0
    assert report.evidence.style == Interval(estimate=1.0, low=1.0, high=1.0, n=len(TOPICS))
    assert report.evidence.citation_precision is None
    # The verifier's ceiling and reference, both cross-fitted: the author's held-out passages, the base model.
    assert report.fidelity is not None and report.fidelity.labels["author"].share.estimate == 1.0
    assert report.fidelity.labels["base"].share.estimate == 0.0
    assert report.decision.verdict is Verdict.PROMOTE and report.decision.promote
    assert "style fidelity is higher by +1.000 [+1.000, +1.000]" in report.decision.reason
    row = report.rows[0]
    assert (row.instruction, row.reference) == SAMPLES[0]
    assert row.answers == {
        "candidate": reference("retries"),
        "production": generic(instruction("retries"), 0),
        "base": generic(instruction("retries"), 0),
    }
    assert row.judgements["production"].style == 1 and row.pairwise == "candidate"
    assert report.judge_usage.calls == 4 * len(TOPICS)


def test_a_better_judge_score_alone_does_not_promote_when_style_is_not_measured() -> None:
    models = Contestants(
        candidate=ScriptedChatModel(twin),
        judge=ScriptedChatModel(judge),
        production=ScriptedChatModel(generic),
    )
    report = evaluate_models(models, SAMPLES, OVERLAP, CONFIG)
    assert report.fidelity is None and report.evidence.style is None
    assert all(scores.style is None for scores in report.scores)
    assert (
        report.decision.verdict is Verdict.TIE and "style fidelity was not measured" in report.decision.reason
    )


def contestants_writing_like_the_author(
    candidate_share: int, production: Callable[[str, int], str]
) -> Contestants:
    """The candidate answers the first `candidate_share` questions in the author's words, the rest
    generically; the judge cannot tell any answer from another."""
    in_voice = {instruction(t) for t in TOPICS[:candidate_share]}

    def partial(user: str, attempt: int) -> str:
        return twin(user, attempt) if user in in_voice else generic(user, attempt)

    return Contestants(
        candidate=ScriptedChatModel(partial),
        judge=ScriptedChatModel(indifferent_judge),
        production=ScriptedChatModel(production),
        base=ScriptedChatModel(generic),
    )


@pytest.mark.parametrize(("in_voice", "verdict"), [(10, Verdict.PROMOTE), (2, Verdict.TIE)])
def test_a_style_gain_promotes_only_when_its_interval_clears_zero(in_voice: int, verdict: Verdict) -> None:
    models = contestants_writing_like_the_author(in_voice, generic)
    report = evaluate_models(models, SAMPLES, fixed_metrics(0.5), CONFIG, CharNgramVerifier())
    style = report.evidence.style
    assert style is not None and style.estimate == pytest.approx(in_voice / len(TOPICS))
    # Two author-like answers in twelve: a resample often holds neither of them, so the gain may be chance.
    assert style.above_zero is (verdict is Verdict.PROMOTE)
    assert report.decision.verdict is verdict


def test_a_candidate_clearly_worse_in_style_is_worse_though_the_judge_likes_both_alike() -> None:
    models = contestants_writing_like_the_author(0, twin)
    report = evaluate_models(models, SAMPLES, fixed_metrics(0.5), CONFIG, CharNgramVerifier())
    candidate, production, _ = report.scores
    assert candidate.judge_score == production.judge_score == 2.0 and candidate.win_rate == 0.5
    assert report.decision.verdict is Verdict.WORSE and not report.decision.promote
    assert "style fidelity is lower by -1.000 [-1.000, -1.000]" in report.decision.reason
    assert "judge score drops" not in report.decision.reason and "drops from" not in report.decision.reason


def test_without_production_the_candidate_is_promoted_and_max_samples_applies() -> None:
    models = Contestants(candidate=ScriptedChatModel(generic), judge=ScriptedChatModel(judge))
    config = CONFIG.model_copy(update={"max_samples": 2})
    report = evaluate_models(models, SAMPLES, fixed_metrics(0.25), config)
    [scores] = report.scores
    assert scores.win_rate is None and scores.samples == 2 and scores.reference["rouge_l"] == 0.25
    assert report.decision.promote and "No production model" in report.decision.reason
    assert len(report.rows) == 2 and report.rows[0].pairwise is None


def test_style_fidelity_needs_enough_held_out_samples() -> None:
    models = Contestants(
        candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(judge), base=ScriptedChatModel(generic)
    )
    config = CONFIG.model_copy(update={"max_samples": 3})
    with pytest.raises(TwinError, match="at least 4 author and 4 base-model texts"):
        evaluate_models(models, SAMPLES, fixed_metrics(0.5), config, CharNgramVerifier())


def test_a_judge_that_never_scores_fails_the_evaluation_with_its_reasons() -> None:
    models = Contestants(
        candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(lambda u, a: "Nice answer!")
    )
    with pytest.raises(TwinError, match=r"scored none of the 12 answers of candidate.*No accuracy and style"):
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
        candidate=ScriptedChatModel(twin),
        judge=judge,
        production=ScriptedChatModel(generic),
        base=ScriptedChatModel(generic),
    )
    config = CONFIG.model_copy(update={"judge_mode": "choice"})
    report = evaluate_models(models, SAMPLES, OVERLAP, config, CharNgramVerifier())
    candidate, production, _ = report.scores
    assert candidate.judge_accuracy == pytest.approx(2.7) and candidate.judge_style == pytest.approx(2.7)
    assert production.judge_accuracy == pytest.approx(1.4) and candidate.win_rate == 1.0
    assert report.decision.promote and candidate.judged == len(TOPICS)
    assert "p(3)=0.80" in report.rows[0].judgements["candidate"].reason
    # Two criteria for each of three models, then one pairwise round; the judge never generated text.
    assert judge.choices == [("1", "2", "3")] * 6 + [("A", "B")] and judge.asked == []


def test_choice_judging_needs_a_backend_that_scores_choices() -> None:
    models = Contestants(candidate=ScriptedChatModel(twin), judge=ScriptedChatModel(judge))
    config = CONFIG.model_copy(update={"judge_mode": "choice"})
    with pytest.raises(TwinError, match=r"cannot score choices.*judge_mode: generate"):
        evaluate_models(models, SAMPLES, fixed_metrics(0.5), config)


def first_passage(user: str) -> str:
    """The content of passage [1] in the service's sourced prompt."""
    lines = user.split("Passages from your own writing:")[1].strip().splitlines()
    return lines[1].strip()


def cites_faithfully(user: str) -> str:
    """Restates passage [1] and cites it."""
    return f"{first_passage(user)} [1]"


def cites_inventions(user: str) -> str:
    """States something no passage says, citing passage [1] for it."""
    return "Kubernetes operators reconcile cluster state every thirty seconds [1]."


def model_of(voice: Callable[[str, int], str], rag: Callable[[str], str]) -> Callable[[str, int], str]:
    """Answers test questions with `voice`, and the service's sourced prompts with `rag`."""

    def answer(user: str, attempt: int) -> str:
        return rag(user) if "Passages from your own writing:" in user else voice(user, attempt)

    return answer


# What each model folder holds: how it writes, and how it cites when the service gives it passages.
MODELS = {
    "twin": model_of(twin, cites_faithfully),
    "twin-retrained": model_of(twin, cites_faithfully),
    "careless-twin": model_of(twin, cites_inventions),
    "generic": model_of(generic, cites_inventions),
    "careful-generic": model_of(generic, cites_faithfully),
    "base": model_of(generic, cites_inventions),
}


class FolderLoader:
    """A `ModelLoader` whose models answer as MODELS says for the folder they were loaded from; records
    what it loaded."""

    def __init__(self) -> None:
        self.loaded: list[tuple[str, str]] = []

    def load(self, model_dir: Path, label: str) -> ScriptedChatModel:
        self.loaded.append((model_dir.name, label))
        model = ScriptedChatModel(MODELS[model_dir.name])
        model.model_id = label
        return model

    def base(self, label: str) -> ScriptedChatModel:
        return self.load(Path("base"), label)


SERVICE = AnswerConfig(retrieval=RetrievalConfig(queries=1, top_k=3))


class ServiceRetriever:
    """The service's `Retriever` over the two-author feature store; records the model it expands with."""

    def __init__(self, index: InMemoryVectorIndex) -> None:
        self.index = index
        self.expanders: list[str] = []

    def __call__(self, model: ChatModel) -> Retriever:
        self.expanders.append(model.model_id)
        return Retriever(
            self.index, HashingEmbedder(), HybridReranker(), model, rag.authors, SERVICE.retrieval
        )


def setup_for(registry: InMemoryRegistry, loader: FolderLoader, served: ServedModel) -> EvaluationSetup:
    index = InMemoryVectorIndex()
    # As feature engineering leaves it: every embedded collection exists, the repositories one empty.
    for collection in EMBEDDED_COLLECTIONS.values():
        index.ensure_collection(collection, HashingEmbedder.dimension)
    rag.fill(index, HashingEmbedder())
    return EvaluationSetup(
        registry=registry,
        loader=loader,
        judge=ScriptedChatModel(judge),
        served=served,
        metrics=OVERLAP,
        index=index,
        retriever=ServiceRetriever(index),
        answer=SERVICE,
        verifier=CharNgramVerifier(),
        support=EmbeddingSupport(HashingEmbedder()),
    )


NO_RETRIEVAL = CONFIG.model_copy(update={"retrieval_queries": 0})
WITH_RAG = CONFIG.model_copy(update={"retrieval_queries": len(rag.PASSAGES)})


def served_production(registry: InMemoryRegistry, folder: str) -> ServedModel:
    """Registers `folder` as version 1 and serves it from production."""
    registry.register(Path(f"/models/{folder}"))
    production = registry.promote(1, Stage.PRODUCTION, "first")
    return ServedModel(source=ServedFrom.PRODUCTION, model_dir=Path(f"/models/{folder}"), version=production)


def test_the_newest_version_is_judged_against_the_served_one_and_its_metrics_go_on_record() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    served = served_production(registry, "generic")
    registry.register(Path("/models/twin"))

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    assert loader.loaded == [("twin", "candidate v2"), ("generic", "production"), ("base", "base")]
    assert report.candidate_version == 2 and report.decision.verdict is Verdict.PROMOTE
    assert report.rag is None and report.retrieval == {}
    logged = registry.get(2).metrics
    assert logged == report.candidate_metrics() and logged["judge_score"] == 3.0 and logged["rouge_l"] == 1.0
    assert logged["style_fidelity"] == logged["style_fidelity_low"] == 1.0
    assert registry.get(2).metadata[Key.METRICS]["win_rate"] == 1.0 and registry.get(1).metrics == {}

    assert promote_evaluated(registry, report) is Stage.PRODUCTION
    assert registry.production() == registry.get(2) and registry.get(2).metadata[Key.PREVIOUS_PRODUCTION] == 1


def test_a_candidate_worse_in_style_is_staged_with_the_reason_on_record() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    served = served_production(registry, "twin")
    registry.register(Path("/models/generic"))

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    assert report.decision.verdict is Verdict.WORSE and not report.decision.promote
    assert "style fidelity is lower by -1.000" in report.decision.reason
    assert "judge score drops from 3.000 to 1.500" in report.decision.reason
    assert promote_evaluated(registry, report) is Stage.STAGING
    assert registry.production() == registry.get(1)
    assert registry.get(2).metadata[Key.PROMOTION_REASON] == report.decision.reason


def test_a_candidate_answering_exactly_as_production_ties_and_is_staged() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    served = served_production(registry, "twin")
    registry.register(Path("/models/twin-retrained"))

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, NO_RETRIEVAL)

    candidate, production, _ = report.scores
    assert candidate.metrics() | {"win_rate": 0} == production.metrics() | {"win_rate": 0}
    assert report.evidence.style == Interval(estimate=0.0, low=0.0, high=0.0, n=len(TOPICS))
    assert report.decision.verdict is Verdict.TIE
    assert "style fidelity differs by +0.000 [+0.000, +0.000], an interval that includes zero" in (
        report.decision.reason
    )
    assert promote_evaluated(registry, report) is Stage.STAGING
    assert registry.production() == registry.get(1) and registry.get(2).stage == Stage.STAGING.value


def test_the_services_retrieval_and_each_models_grounding_are_measured_through_its_own_path() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    served = served_production(registry, "generic")
    registry.register(Path("/models/twin"))
    setup = setup_for(registry, loader, served)

    report = evaluate_candidate(setup, SAMPLES, WITH_RAG)

    # A question was written from every stored chunk by the judge, and each went through the service's path
    # with the retriever expanding queries with the model it serves.
    assert report.rag is not None and len(report.rag.questions) == len(rag.PASSAGES)
    assert sum("Text by the author:" in asked for asked in setup.judge.asked) == len(rag.PASSAGES)
    assert setup.retriever.expanders == ["production"]
    assert report.retrieval == {"hit_at_k": 1.0, "mrr": 1.0, "k": 3, "queries": len(rag.PASSAGES)}
    candidate, production, base = report.scores
    assert (
        candidate.grounding["citation_precision"] == 1.0 and candidate.grounding["unsupported_share"] == 0.0
    )
    assert (
        production.grounding["citation_precision"] == 0.0 and production.grounding["unsupported_share"] == 1.0
    )
    assert all(answer.endswith("[1]") for answer in report.rag.answers["candidate"]) and base.grounding == {}
    assert report.evidence.citation_precision == Interval(
        estimate=1.0, low=1.0, high=1.0, n=len(rag.PASSAGES)
    )
    assert report.decision.verdict is Verdict.PROMOTE
    logged = registry.get(2).metrics
    assert logged == report.candidate_metrics()
    assert {"retrieval_hit_at_k", "retrieval_mrr", "citation_precision", "unsupported_share"} <= set(logged)
    assert {"k", "queries", "retrieval_k", "retrieval_queries"}.isdisjoint(logged)


def test_citing_passages_that_do_not_say_it_is_worse_even_with_a_better_voice() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    served = served_production(registry, "careful-generic")
    registry.register(Path("/models/careless-twin"))

    report = evaluate_candidate(setup_for(registry, loader, served), SAMPLES, WITH_RAG)

    assert report.evidence.style is not None and report.evidence.style.above_zero
    assert report.evidence.citation_precision is not None and report.evidence.citation_precision.below_zero
    assert report.decision.verdict is Verdict.WORSE
    assert "citation precision is lower by -1.000 [-1.000, -1.000]" in report.decision.reason
    assert promote_evaluated(registry, report) is Stage.STAGING


def test_with_the_backend_fallback_serving_there_is_nothing_to_beat() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    registry.register(Path("/models/generic"))
    served = ServedModel(source=ServedFrom.BACKEND)
    setup = setup_for(registry, loader, served)

    report = evaluate_candidate(setup, SAMPLES, WITH_RAG)

    assert [label for _, label in loader.loaded] == ["candidate v1", "base"]
    assert report.decision.promote and "No production model" in report.decision.reason
    # With nothing in production the service would expand queries with the candidate; nothing to compare.
    assert setup.retriever.expanders == ["candidate v1"]
    assert report.evidence.style is None and report.evidence.citation_precision is None
    assert "citation_precision" in report.candidate_metrics()


def test_the_production_version_is_not_evaluated_against_itself() -> None:
    registry, loader = InMemoryRegistry(), FolderLoader()
    served = served_production(registry, "twin")

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
