"""Users' corrected answers join the DPO train split."""

from pathlib import Path

from datasets import Dataset, DatasetDict

from llm_engineering.domain.inference import Feedback, Trace
from llm_engineering.infrastructure.container import get_feedback_store
from llm_engineering.infrastructure.hf_datasets import FEEDBACK_CATEGORY, with_feedback


def preference() -> DatasetDict:
    row = {
        "prompt": ["How do you chunk?"],
        "chosen": ["By paragraph."],
        "rejected": ["It depends."],
        "category": ["posts"],
        "source_link": ["https://example.org/1"],
    }
    return DatasetDict({"train": Dataset.from_dict(row), "test": Dataset.from_dict(row)})


def test_corrected_answers_become_train_pairs_and_the_test_split_stays() -> None:
    merged = with_feedback(
        preference(), [("a1", "Why backoff?", "No idea.", "Backoff keeps retries polite.")]
    )
    assert merged["train"][-1] == {
        "prompt": "Why backoff?",
        "chosen": "Backoff keeps retries polite.",
        "rejected": "No idea.",
        "category": FEEDBACK_CATEGORY,
        "source_link": "feedback:a1",
    }
    assert len(merged["train"]) == 2 and merged["test"].to_list() == preference()["test"].to_list()
    assert with_feedback(preference(), [])["train"].to_list() == preference()["train"].to_list()


def test_the_pairs_come_from_downvoted_corrected_answers_in_the_warehouse(data_dir: Path) -> None:
    from steps.training.train import feedback_pairs

    monitoring = get_feedback_store()
    for n, (rating, correction) in enumerate([("down", "Say it my way."), ("down", None), ("up", None)]):
        trace = Trace(id=f"t{n}", query=f"question {n}", answer=f"answer {n}")
        monitoring.record(trace)
        monitoring.add_feedback(Feedback(answer_id=trace.id, rating=rating, correction=correction))
    assert feedback_pairs() == [("t0", "question 0", "answer 0", "Say it my way.")]
