"""Users' feedback joins the DPO train split, each pair traced back to the answers it came from."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from datasets import Dataset, DatasetDict

from llm_engineering.domain.datasets import DatasetType, InstructDataset, InstructSample, PreferenceDataset
from llm_engineering.domain.feedback import FeedbackPreference, FeedbackRules
from llm_engineering.domain.inference import Feedback, Trace
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.container import get_feedback_store
from llm_engineering.infrastructure.hf_datasets import (
    FEEDBACK_CATEGORY,
    from_dataset_dict,
    to_dataset_dict,
    with_feedback,
)

T0 = datetime(2025, 5, 4, 12, 0, tzinfo=UTC)


def preference() -> DatasetDict:
    row = {
        "prompt": ["How do you chunk?"],
        "chosen": ["By paragraph."],
        "rejected": ["It depends."],
        "category": ["posts"],
        "source_link": ["https://example.org/1"],
    }
    return DatasetDict({"train": Dataset.from_dict(row), "test": Dataset.from_dict(row)})


def pair(chosen: str, rejected: str, *trace_ids: str) -> FeedbackPreference:
    return FeedbackPreference(
        prompt="Why backoff?",
        chosen=chosen,
        rejected=rejected,
        trace_ids=trace_ids,
        sources=frozenset({"s1"}),
        created_at=T0,
    )


def test_feedback_pairs_become_train_rows_that_keep_their_trace_ids() -> None:
    merged = with_feedback(
        preference(),
        [pair("Backoff keeps retries polite.", "No idea.", "a1"), pair("Liked.", "Disliked.", "a2", "a3")],
    )
    assert merged["train"].to_list()[1:] == [
        {
            "prompt": "Why backoff?",
            "chosen": "Backoff keeps retries polite.",
            "rejected": "No idea.",
            "category": FEEDBACK_CATEGORY,
            "source_link": "feedback:a1",
        },
        {
            "prompt": "Why backoff?",
            "chosen": "Liked.",
            "rejected": "Disliked.",
            "category": FEEDBACK_CATEGORY,
            "source_link": "feedback:a2,a3",
        },
    ]
    assert merged["test"].to_list() == preference()["test"].to_list()
    assert with_feedback(preference(), [])["train"].to_list() == preference()["train"].to_list()


def test_feedback_pairs_fill_an_empty_train_split_and_a_dataset_converts_back() -> None:
    """A refresh whose new preference rows are none still trains DPO on feedback: the empty split must take
    the pairs (an untyped empty column would refuse strings)."""
    empty = to_dataset_dict(PreferenceDataset(train=[], test=[]))
    merged = with_feedback(empty, [pair("Backoff keeps retries polite.", "No idea.", "a1")])
    assert merged["train"]["source_link"] == ["feedback:a1"]

    sample = InstructSample(
        instruction="Why backoff?", output="It keeps retries polite.", category="articles", source_link="x"
    )
    dataset = InstructDataset(train=[sample], test=[])
    assert from_dataset_dict(to_dataset_dict(dataset), DatasetType.INSTRUCTION) == dataset


def test_the_training_step_pairs_the_warehouse_feedback_by_its_rules(data_dir: Path) -> None:
    from steps.training.train import feedback_pairs

    monitoring = get_feedback_store()
    verdicts = [  # rating, correction, question, answer
        ("up", None, "q0", "Liked."),
        ("down", None, "Q0?", "Disliked."),  # paired with the 👍 answer to the same question
        ("down", "Say it my way.", "q2", "Off."),
        ("down", None, "q3", "Unliked."),  # no correction, no 👍 counterpart: dropped
        ("down", "Say it my way.", "q2", "Off."),  # the same pair again: a duplicate
    ]
    for n, (rating, correction, question, answer) in enumerate(verdicts):
        monitoring.record(Trace(id=f"t{n}", query=question, answer=answer))
        at = T0 + timedelta(minutes=n)
        monitoring.add_feedback(
            Feedback(answer_id=f"t{n}", rating=rating, correction=correction, created_at=at)
        )

    pairs, report = feedback_pairs(TrainingConfig(feedback=FeedbackRules(min_pairs=2)))
    assert [(p.chosen, p.rejected, p.trace_ids) for p in pairs] == [
        ("Liked.", "Disliked.", ("t1", "t0")),
        ("Say it my way.", "Off.", ("t2",)),
    ]
    assert report["kept"] == 2 and report["trace_ids"] == ["t1", "t0", "t2"]
    assert {reason: n for reason, n in report["dropped"].items() if n} == {
        "no_counterpart": 1,
        "duplicate": 1,
    }

    pairs, report = feedback_pairs(TrainingConfig(feedback=FeedbackRules(min_pairs=3)))
    assert pairs == [] and report["dropped"]["below_min_pairs"] == 2 and "min_pairs=3" in report["reason"]
    for unused in (TrainingConfig(use_feedback=False), TrainingConfig(stages=["sft"])):
        pairs, report = feedback_pairs(unused)
        assert pairs == [] and report["kept"] == 0 and "use_feedback" in report["reason"]
