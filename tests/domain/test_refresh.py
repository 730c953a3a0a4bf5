"""Continuous training's decisions: document changes, the plan, and merging fresh samples into a dataset."""

import pytest

from llm_engineering.domain.datasets import InstructDataset, InstructSample
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.refresh import (
    RefreshConfig,
    SourceChanges,
    StartFrom,
    decide,
    merge_refreshed,
    source_changes,
    stages_to_train,
)

PRODUCTION = (4, "/models/v4")


def sample(question: str, link: str, answer: str | None = None) -> InstructSample:
    return InstructSample(
        instruction=question,
        output=answer or f"My own answer about {question.lower()} written long enough.",
        category=DataCategory.ARTICLES,
        source_link=link,
    )


def test_changes_name_new_changed_and_removed_links() -> None:
    changes = source_changes({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9", "d": "4"})
    assert changes == SourceChanges(new=("d",), changed=("b",), removed=("c",))
    assert changes.to_generate == ("d", "b") and changes.stale == {"b", "c"}
    assert not source_changes({"a": "1"}, {"a": "1"}).any


def plan(**overrides: object):
    arguments: dict[str, object] = {
        "changes": SourceChanges(),
        "documents": 20,
        "first_datasets": False,
        "untrained_datasets": False,
        "new_feedback_traces": (),
        "new_feedback_pairs": 0,
        "production": PRODUCTION,
        "config": RefreshConfig(),
    }
    return decide(**(arguments | overrides))  # type: ignore[arg-type]


def test_nothing_new_plans_no_work_and_says_why() -> None:
    nothing = plan()
    assert nothing.nothing_new and nothing.stages == () and not nothing.generate
    assert nothing.summary.startswith("Nothing new: the 20 documents are those")


def test_new_writing_generates_and_trains_both_stages_from_production() -> None:
    new = plan(changes=SourceChanges(new=("post",)))
    assert new.generate and new.stages == ("sft", "dpo")
    assert (new.start_from_version, new.base_model_dir) == PRODUCTION
    assert "1 new, 0 changed, 0 removed documents" in new.summary


def test_enough_new_feedback_alone_trains_dpo_only_and_too_little_waits() -> None:
    feedback = plan(new_feedback_pairs=5, new_feedback_traces=("t1",))
    assert not feedback.generate and feedback.stages == ("dpo",)
    waiting = plan(new_feedback_pairs=4)
    assert waiting.nothing_new and "4 new feedback pairs (fewer than 5)" in waiting.summary


def test_untrained_datasets_train_without_generating() -> None:
    untrained = plan(untrained_datasets=True)
    assert not untrained.generate and untrained.stages == ("sft", "dpo")


@pytest.mark.parametrize(
    ("start_from", "production", "expected"),
    [
        (StartFrom.BASE, PRODUCTION, None),
        (StartFrom.PRODUCTION, None, None),
        (StartFrom.PRODUCTION, PRODUCTION, 4),
    ],
)
def test_training_continues_from_production_only_when_configured_and_present(
    start_from: StartFrom, production: tuple[int, str] | None, expected: int | None
) -> None:
    refreshed = plan(
        changes=SourceChanges(changed=("a",)),
        production=production,
        config=RefreshConfig(start_from=start_from),
    )
    assert refreshed.start_from_version == expected
    assert ("no production version yet" in refreshed.summary) == (
        start_from is StartFrom.PRODUCTION and production is None
    )


def test_a_merge_drops_stale_samples_adds_fresh_ones_and_decontaminates_against_the_whole_test_split() -> (
    None
):
    previous = InstructDataset(
        train=[sample("How do retries work", "kept"), sample("Why cache embeddings", "changed")],
        test=[sample("What is a good chunk size for search", "kept")],
    )
    fresh = InstructDataset(
        train=[
            sample("How do retries work", "kept"),  # equal to a kept one
            sample(
                "What is a good chunk size for search today",
                "new",
                "My own answer about what is a good chunk size for search written long enough.",
            ),
            sample("Why log every request", "new"),
        ],
        test=[sample("Why version prompts", "new")],
    )
    merged, new_train, report = merge_refreshed(previous, fresh, frozenset({"changed"}), ngram=6)
    assert [s.instruction for s in merged.train] == ["How do retries work", "Why log every request"]
    assert [s.instruction for s in merged.test] == [
        "What is a good chunk size for search",
        "Why version prompts",
    ]
    assert [s.instruction for s in new_train] == ["Why log every request"]
    assert report.model_dump() == {"kept": 2, "stale": 1, "added": 2, "duplicates": 1, "contaminated": 1}


def test_a_first_merge_is_the_fresh_dataset() -> None:
    fresh = InstructDataset(train=[sample("How do retries work", "a")], test=[sample("Why log", "b")])
    merged, new_train, report = merge_refreshed(None, fresh, frozenset(), ngram=8)
    assert merged == fresh and new_train == fresh.train and report.kept == report.stale == 0


def test_a_stage_runs_when_the_config_has_it_and_it_has_rows_or_dpo_has_new_feedback() -> None:
    writing = plan(changes=SourceChanges(new=("post",)))
    assert stages_to_train(writing, ["sft", "dpo"], {"sft": 4, "dpo": 2}) == ("sft", "dpo")
    assert stages_to_train(writing, ["sft"], {"sft": 4, "dpo": 2}) == ("sft",)
    assert stages_to_train(writing, ["sft", "dpo"], {"sft": 0, "dpo": 0}) == ()
    with_feedback = plan(changes=SourceChanges(new=("post",)), new_feedback_pairs=5)
    assert stages_to_train(with_feedback, ["sft", "dpo"], {"sft": 0, "dpo": 0}) == ("dpo",)
