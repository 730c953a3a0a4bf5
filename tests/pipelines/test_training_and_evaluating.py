"""Training → registry → evaluation → promotion, end to end in a temporary ZenML store.

A tiny real training run of SmolLM2 (a few steps at a short length); the judge is a chat-completions
server on 127.0.0.1 spoken to over HTTP.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset, DatasetDict
from zenml import save_artifact
from zenml.integrations.huggingface.materializers.huggingface_datasets_materializer import (
    HFDatasetMaterializer,
)

from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.domain.generation import GenerationConfig
from llm_engineering.domain.registry import Key
from llm_engineering.domain.training import StageSettings, TrainingConfig
from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.container.models import get_model_registry
from llm_engineering.infrastructure.hub import HubError
from pipelines import evaluating, training
from tests.support.chat_server import ChatServer, Reply
from tests.support.hub_server import HubServer, client_for_stand_in

pytestmark = pytest.mark.slow
registry = get_model_registry()

# Four to train on and six held out: style fidelity cross-fits over at least four test answers.
TOPICS = [
    "retries",
    "chunking",
    "caching",
    "batching",
    "evaluation",
    "indexes",
    "logging",
    "tests",
    "schemas",
    "backfills",
]


def instruct() -> DatasetDict:
    rows = [
        {"instruction": f"How do you handle {t}?", "output": f"I keep {t} boring: a limit, a log, a test."}
        for t in TOPICS
    ]
    return DatasetDict({"train": Dataset.from_list(rows[:4]), "test": Dataset.from_list(rows[4:])})


def preference() -> DatasetDict:
    rows = [
        {"prompt": f"How do you handle {t}?", "chosen": f"I keep {t} boring.", "rejected": "It depends."}
        for t in TOPICS
    ]
    return DatasetDict({"train": Dataset.from_list(rows[:4]), "test": Dataset.from_list(rows[4:])})


def judge(body: dict[str, Any], attempt: int) -> Reply:
    """The same scores for every answer, and a tie for every pair: no version is better than another."""
    if "Answer B:" in body["messages"][-1]["content"]:
        return Reply(content="tie")
    return Reply(content=json.dumps({"accuracy": 2, "style": 2, "reason": "steady"}))


TINY = TrainingConfig(
    max_length=64,
    sft=StageSettings(
        learning_rate=1e-3, max_steps=2, per_device_batch_size=2, gradient_accumulation_steps=1
    ),
    dpo=StageSettings(
        learning_rate=1e-5, max_steps=1, per_device_batch_size=2, gradient_accumulation_steps=1
    ),
)
QUICK = EvaluationConfig(
    retrieval_queries=0,
    generation=GenerationConfig(max_new_tokens=12, temperature=0.0),
    judge_generation=GenerationConfig(max_new_tokens=24, temperature=0.0),
)


def test_a_trained_version_is_evaluated_promoted_and_not_replaced_by_an_equal_one(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_artifact(instruct(), name="instruct_datasets", materializer=HFDatasetMaterializer)
    save_artifact(preference(), name="preference_datasets", materializer=HFDatasetMaterializer)
    with ChatServer(judge) as server:
        monkeypatch.setenv("LLM_BACKEND", "openai")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)

        training.with_options(enable_cache=False)(config=TINY)
        first = registry.latest()
        model_dir = registry.model_dir(first.number)
        assert (model_dir / "config.json").exists()
        assert {"sft", "dpo"} <= set(first.metadata[Key.STAGES])

        evaluating.with_options(enable_cache=False)(config=QUICK)
        production = registry.production()
        assert production is not None and production.number == first.number
        assert production.metrics["judge_score"] == 2.0
        assert {"rouge_l", "bleu"} <= production.metrics.keys()

        with HubServer(token="hf_w") as hub:  # the second run also pushes its merged model
            client_for_stand_in(monkeypatch)
            monkeypatch.setenv("HUGGINGFACE_ACCESS_TOKEN", "hf_w")
            monkeypatch.setenv("HUGGINGFACE_ENDPOINT", hub.origin)
            get_settings.cache_clear()
            training.with_options(enable_cache=False)(
                config=TINY, push_to_huggingface_hub=True, model_id="iris/llm-twin"
            )
        second = registry.latest()
        evaluating.with_options(enable_cache=False)(config=QUICK)

    pushed = hub.repos["model", "iris/llm-twin"]
    second_dir = registry.model_dir(second.number)
    weights = (second_dir / "model.safetensors").read_bytes()
    assert pushed.lfs["model.safetensors"] == (hashlib.sha256(weights).hexdigest(), len(weights))
    assert pushed.files["config.json"] == (second_dir / "config.json").read_bytes()
    assert f"Registry version `{second.number}`" in pushed.files["README.md"].decode()
    assert registry.get(second.number).metadata[Key.HUB_URL] == f"{hub.origin}/iris/llm-twin"

    assert second.number == first.number + 1
    production = registry.production()
    assert production is not None and production.number == first.number  # no clear gain does not promote
    assert registry.get(second.number).stage == "staging"


def test_a_push_that_could_not_happen_stops_the_run_before_training(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUGGINGFACE_ACCESS_TOKEN", "")  # empty beats a token in a developer's .env
    versions_before = registry.list_versions()
    with pytest.raises(HubError, match="needs HUGGINGFACE_ACCESS_TOKEN"):
        training.with_options(enable_cache=False)(config=TINY, push_to_huggingface_hub=True)
    assert registry.list_versions() == versions_before
