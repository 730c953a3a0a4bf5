"""Continuous training end to end in a temporary ZenML store: a first run builds and trains everything, a
second finds nothing new, new writing is sampled, trained and evaluated, and feedback alone trains DPO.

Tiny real training runs of SmolLM2; the dataset writer and the judge are a chat-completions server on
127.0.0.1 spoken to over HTTP.
"""

import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from zenml.client import Client

from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.domain.inference import Feedback, Trace
from llm_engineering.domain.refresh import RefreshConfig
from llm_engineering.domain.registry import Key
from llm_engineering.infrastructure.container import get_feedback_store
from llm_engineering.infrastructure.container.models import get_model_registry
from pipelines import continuous_training
from tests.pipelines.test_training_and_evaluating import QUICK, TINY
from tests.support.chat_server import ChatServer, Reply
from tests.support.zenml_store import isolated_zenml

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "iris-calder"
NEW_POST = """# Why I stopped tuning chunk sizes by hand

Every corpus I indexed last year got its own chunk size, picked by staring at a handful of retrievals. It
never transferred. Now the pipeline sweeps three sizes against a fixed question set, logs hit rate and MRR,
and keeps the winner in the run config, so the choice is written down and can be argued with. The sweep costs
twenty minutes on a laptop, far less than the afternoons I used to spend squinting at search results.
"""


def scripted(body: dict[str, Any], attempt: int) -> Reply:
    """A question per passage, a generic answer to each question, and steady scores with a tie per pair."""
    user = body["messages"][-1]["content"]
    if "Write one question" in user:
        words = re.findall(r"[A-Za-z]{4,}", user.split("\n", 1)[1])[:3]
        return Reply(content=f"How would you explain {' '.join(words)} to a colleague?")
    if "Answer B:" in user:
        return Reply(content="tie")
    if "reference answer" in body["messages"][0]["content"]:
        return Reply(content='{"accuracy": 2, "style": 2, "reason": "steady"}')
    return Reply(
        content="Generally speaking, it depends on your needs, and there are many options to consider."
    )


def last_run_steps() -> dict[str, Any]:
    return Client().get_pipeline("continuous_training").last_run.steps


def add_feedback(pairs: int) -> list[str]:
    """`pairs` answers a user marked 👎 and corrected, each from its own client; their trace ids."""
    store = get_feedback_store()
    now = datetime.now(UTC)
    ids = []
    for n in range(pairs):
        trace = Trace(
            created_at=now,
            query=f"How do you size the chunks of corpus {n}?",
            answer="It depends on many factors.",
            model_id="llm-twin",
            model_version="1",
        )
        store.record(trace)
        store.add_feedback(
            Feedback(
                answer_id=trace.id,
                rating="down",
                correction=f"I sweep three sizes against a fixed question set for corpus {n}.",
                created_at=now + timedelta(seconds=n),
                source=f"client-{n}",
            )
        )
        ids.append(trace.id)
    return ids


def test_a_refresh_does_only_the_work_that_changed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store of its own: the versions and datasets it leaves would be the "latest" of other tests.
    with isolated_zenml(tmp_path / "zenml"):
        refresh_in_a_fresh_store(data_dir, monkeypatch)


def refresh_in_a_fresh_store(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = data_dir / "notes"
    shutil.copytree(SAMPLES / "notes", notes)
    registry = get_model_registry()
    run = continuous_training.with_options(enable_cache=False)
    parameters = {
        "user_full_name": "Iris Calder",
        "links": [f"folder:{notes}"],
        "instruct": DatasetConfig(test_split_size=0.3, window_max_chars=300),
        "preference": DatasetConfig(test_split_size=0.3, window_max_chars=300),
        "refresh": RefreshConfig(min_new_feedback_pairs=3),
        "training": TINY.model_copy(update={"feedback": TINY.feedback.model_copy(update={"min_pairs": 3})}),
        "evaluation": QUICK,
    }
    with ChatServer(scripted) as server:
        monkeypatch.setenv("LLM_BACKEND", "openai")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)

        # First run: no datasets and no model yet, so everything is sampled and the base model trains.
        run(**parameters)
        first = registry.latest()
        plan = last_run_steps()["plan_refresh"].outputs["refresh_plan"][0].load()
        assert plan.first_datasets and len(plan.changes.new) == 3 and plan.start_from_version is None
        assert first.metadata[Key.DATASETS].keys() == {"instruct_datasets", "preference_datasets"}
        assert registry.production() is not None and registry.production().number == first.number
        first_instruct = Client().get_artifact_version("instruct_datasets")

        # Second run: nothing new, so no dataset, no version, no training.
        started = time.perf_counter()
        run(**parameters)
        idle_seconds = time.perf_counter() - started
        steps = last_run_steps()
        assert "train_model" not in steps and "refresh_datasets" not in steps
        assert steps["plan_refresh"].outputs["refresh_plan"][0].load().nothing_new
        report = steps["report_refresh"].outputs["refresh_report"][0].load()
        assert "Nothing new" in report
        assert registry.latest().number == first.number
        assert Client().get_artifact_version("instruct_datasets").id == first_instruct.id
        assert idle_seconds < 120

        # New writing: only the new document is sampled, merged in, and training continues from production.
        (notes / "chunk-size-sweeps.md").write_text(NEW_POST)
        run(**parameters)
        second = registry.latest()
        assert second.number == first.number + 1
        steps = last_run_steps()
        plan = steps["plan_refresh"].outputs["refresh_plan"][0].load()
        assert len(plan.changes.new) == 1 and plan.changes.new[0].endswith("chunk-size-sweeps.md")
        assert plan.start_from_version == first.number and plan.stages == ("sft", "dpo")
        merged = Client().get_artifact_version("instruct_datasets").load()
        new_rows = steps["refresh_datasets"].outputs["new_instruct_samples"][0].load()["train"]
        assert len(new_rows) > 0 and set(new_rows["source_link"]) == {
            (notes / "chunk-size-sweeps.md").as_uri()
        }
        added = Client().get_artifact_version("instruct_datasets").run_metadata["new_train_rows"]
        assert added == len(new_rows)
        old = first_instruct.load()
        assert len(merged["train"]) + len(merged["test"]) > len(old["train"]) + len(old["test"])
        assert set(old["test"]["instruction"]) <= set(merged["test"]["instruction"])
        assert {"sft", "dpo"} == set(second.metadata[Key.STAGES])
        # Continuing from production, it learnt the new rows alone, and stands for the merged datasets.
        inputs = steps["train_model"].inputs
        assert inputs["instruct_datasets"][0].artifact.name == "new_instruct_samples"
        assert inputs["preference_datasets"][0].artifact.name == "new_preference_samples"
        assert second.metadata[Key.DATASETS]["instruct_datasets"] == str(
            Client().get_artifact_version("instruct_datasets").id
        )
        assert "evaluate_models" in steps and "promote_if_better" in steps

        # Feedback alone: DPO only, from production, and the version records the traces it learned from.
        traces = add_feedback(3)
        run(**parameters)
        third = registry.latest()
        assert third.number == second.number + 1
        assert set(third.metadata[Key.STAGES]) == {"dpo"}
        assert set(traces) <= set(third.metadata[Key.FEEDBACK_PAIRS]["trace_ids"])
        assert "refresh_datasets" not in last_run_steps()

        # The same feedback does not train again.
        run(**parameters)
        assert registry.latest().number == third.number
