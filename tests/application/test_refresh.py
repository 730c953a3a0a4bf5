"""Planning a refresh from what the stores hold: documents, dataset versions, model versions, feedback."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from llm_engineering.application.refresh import datasets_untrained, plan_refresh, trained_feedback_traces
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import CleanedDocument, Section
from llm_engineering.domain.feedback import FeedbackRules, RatedAnswer
from llm_engineering.domain.refresh import RefreshConfig
from llm_engineering.domain.registry import Key, ModelVersion

T0 = datetime(2026, 12, 1, tzinfo=UTC)
AUTHOR = uuid4()
LATEST = {"instruct_datasets": "i2", "preference_datasets": "p2"}


def document(link: str, content_hash: str) -> CleanedDocument:
    return CleanedDocument(
        id=uuid4(),
        category=DataCategory.ARTICLES,
        sections=[Section(name="", text=f"Text of {link}.")],
        platform="folder",
        author_id=AUTHOR,
        author_full_name="Iris Calder",
        link=link,
        content_hash=content_hash,
    )


def version(number: int, **metadata: object) -> ModelVersion:
    return ModelVersion(
        number=number, name="llm_twin", created=T0, metadata={Key.MODEL_DIR: f"/m/{number}", **metadata}
    )


def corrected(n: int) -> RatedAnswer:
    return RatedAnswer(
        trace_id=f"t{n}",
        question=f"Question {n}?",
        answer="It depends.",
        rating="down",
        correction=f"My answer {n}.",
        source=f"s{n}",
        created_at=T0 + timedelta(minutes=n),
    )


def test_a_version_without_a_model_folder_did_not_train_and_one_without_datasets_counts_as_trained() -> None:
    failed = ModelVersion(number=3, name="llm_twin", created=T0, metadata={})
    assert datasets_untrained(LATEST, [version(2, **{Key.DATASETS: LATEST}), failed]) is False
    assert datasets_untrained(LATEST, [version(2, **{Key.DATASETS: {"instruct_datasets": "i1"}})]) is True
    assert datasets_untrained(LATEST, [version(2)]) is False
    assert datasets_untrained(LATEST, []) is True
    assert datasets_untrained({}, []) is False
    # Datasets a refresh merged without adding a train row (a removal) hold nothing to learn.
    assert datasets_untrained(LATEST, [version(2, **{Key.DATASETS: {"instruct_datasets": "i1"}})], 0) is False
    assert datasets_untrained(LATEST, [version(2, **{Key.DATASETS: {"instruct_datasets": "i1"}})], 3) is True


def test_feedback_any_version_learned_from_is_not_new() -> None:
    versions = [version(1, **{Key.FEEDBACK_PAIRS: {"kept": 2, "trace_ids": ["t0", "t1"]}}), version(2)]
    assert trained_feedback_traces(versions) == {"t0", "t1"}
    plan = plan_refresh(
        [document("a", "h1")],
        [document("a", "h1")],
        LATEST,
        [*versions, version(3, **{Key.DATASETS: LATEST})],
        version(3, **{Key.DATASETS: LATEST}),
        [corrected(n) for n in range(7)],
        FeedbackRules(min_pairs=5),
        RefreshConfig(min_new_feedback_pairs=5),
        previous_preference=[document("a", "h1")],
    )
    assert plan.new_feedback_pairs == 5 and plan.new_feedback_traces == ("t2", "t3", "t4", "t5", "t6")
    assert plan.stages == ("dpo",) and plan.start_from_version == 3 and plan.base_model_dir == "/m/3"


def test_edited_writing_is_a_change_and_unknown_sources_are_a_first_build() -> None:
    current = [document("a", "h2"), document("b", "h1")]
    built_from = [document("a", "h1"), document("b", "h1")]
    plan = plan_refresh(
        current, built_from, LATEST, [], None, [], None, RefreshConfig(), previous_preference=built_from
    )
    assert plan.changes.changed == ("a",) and plan.generate and plan.start_from_version is None
    assert "feedback is not used" in plan.summary
    first = plan_refresh(current, None, {}, [], None, [], None, RefreshConfig(), previous_preference=None)
    assert first.first_datasets and first.changes.new == ("a", "b")
    assert "no datasets with recorded sources yet" in first.summary


def test_each_dataset_is_compared_with_the_documents_it_was_built_from() -> None:
    """The two datasets come from separate runs: a post the preference dataset already has is new only to
    the instruction dataset."""
    current = [document("a", "h1"), document("c", "h1")]
    plan = plan_refresh(
        current,
        [document("a", "h1")],
        LATEST,
        [],
        None,
        [],
        None,
        RefreshConfig(),
        previous_preference=current,
    )
    assert plan.changes.new == ("c",) and not plan.preference_changes.any and plan.generate
    only_preference = plan_refresh(
        current,
        current,
        LATEST,
        [],
        None,
        [],
        None,
        RefreshConfig(),
        previous_preference=[document("a", "h1")],
    )
    assert only_preference.generate and only_preference.preference_changes.new == ("c",)
    assert "the preference dataset: 1 new, 0 changed, 0 removed documents" in only_preference.summary


def test_after_a_version_production_did_not_take_the_base_model_trains_on_everything() -> None:
    """Production never learnt what the rejected version did, so continuing from it on the new rows alone
    would lose that; the base model trains on the merged datasets instead."""
    production = version(3, **{Key.DATASETS: LATEST})
    rejected = version(4, **{Key.DATASETS: LATEST})
    current = [document("a", "h1"), document("c", "h1")]
    built_from = [document("a", "h1")]
    plan = plan_refresh(
        current,
        built_from,
        LATEST,
        [production, rejected],
        production,
        [],
        None,
        RefreshConfig(),
        previous_preference=built_from,
    )
    assert plan.stages == ("sft", "dpo") and plan.start_from_version is None and plan.base_model_dir is None
    assert "the newest trained version is not production" in plan.summary
    continuing = plan_refresh(
        current,
        built_from,
        LATEST,
        [production],
        production,
        [],
        None,
        RefreshConfig(),
        previous_preference=built_from,
    )
    assert continuing.start_from_version == 3
