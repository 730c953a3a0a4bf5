"""The shipped run configs hold only fields their config classes know, with values those classes accept."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from zenml.client import Client

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.datasets import DatasetConfig
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.refresh import RefreshConfig
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.api.batching import QueueConfig
from llm_engineering.infrastructure.container import get_warehouse
from llm_engineering.infrastructure.samples import build_sample_sources
from pipelines import digital_data_etl

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def pipeline_config(document: dict[str, Any]) -> Any:
    return document["parameters"]["config"]


@pytest.mark.parametrize(
    ("file", "model", "section"),
    [
        ("training.yaml", TrainingConfig, pipeline_config),
        ("evaluating.yaml", EvaluationConfig, pipeline_config),
        ("generate_instruct_datasets.yaml", DatasetConfig, pipeline_config),
        ("generate_preference_datasets.yaml", DatasetConfig, pipeline_config),
        (
            "inference.yaml",
            AnswerConfig,
            lambda document: {k: v for k, v in document.items() if k != "queue"},
        ),
        ("inference.yaml", QueueConfig, lambda document: document["queue"]),
    ],
)
def test_a_shipped_config_loads_into_its_class(file: str, model: type[BaseModel], section: Any) -> None:
    overrides = section(yaml.safe_load((CONFIGS / file).read_text()))
    loaded = model.model_validate(overrides)  # the classes forbid unknown fields
    assert loaded.model_dump(include=set(overrides)).keys() == overrides.keys()


def test_the_sample_crawl_config_finds_the_samples_built_under_another_data_dir(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`poe build-samples` then `poe run-digital-data-etl` with DATA_DIR outside ./data, run from the checkout
    (whose ./data/samples, if built, must not be what is crawled)."""
    monkeypatch.chdir(ROOT)  # the checked-in corpus is crawled in place, relative to the working directory
    assert not data_dir.resolve().is_relative_to(ROOT / "data")
    built = build_sample_sources(ROOT / "samples" / "iris-calder", data_dir / "samples")

    config = CONFIGS / "digital_data_etl_iris_calder.yaml"
    digital_data_etl.with_options(enable_cache=False, config_path=str(config))()
    step = Client().get_pipeline("digital_data_etl").last_run.steps["crawl_links"]
    report = step.outputs["crawl_report"][0].load()
    assert step.run_metadata["failures"] == {}
    assert [outcome.link for outcome in report.outcomes[:2]] == [
        str(built.repository),
        f"medium-export:{built.medium_zip}",
    ]
    [repository] = get_warehouse().iter_documents(DataCategory.REPOSITORIES)
    assert repository.link == built.repository.as_uri()
    assert step.run_metadata["documents_stored"] == 17  # the corpus's README counts them


def test_continuous_training_uses_the_main_jobs_settings() -> None:
    """configs/continuous_training.yaml repeats the main job's configs section by section; they must agree,
    or a refresh would train and judge the twin otherwise than the run it refreshes."""
    refresh = yaml.safe_load((CONFIGS / "continuous_training.yaml").read_text())["parameters"]

    def parameters(file: str) -> dict[str, Any]:
        return yaml.safe_load((CONFIGS / file).read_text())["parameters"]

    crawl = parameters("digital_data_etl_iris_calder.yaml")
    assert (refresh["user_full_name"], refresh["links"]) == (crawl["user_full_name"], crawl["links"])
    assert refresh["instruct"] == parameters("generate_instruct_datasets.yaml")["config"]
    assert refresh["preference"] == parameters("generate_preference_datasets.yaml")["config"]
    assert refresh["training"] == parameters("training.yaml")["config"]
    assert refresh["evaluation"] == parameters("evaluating.yaml")["config"]
    RefreshConfig.model_validate(refresh["refresh"])
    on_aws = yaml.safe_load((CONFIGS / "continuous_training.yaml").read_text())["steps"]["train_model"]
    assert on_aws == yaml.safe_load((CONFIGS / "training.yaml").read_text())["steps"]["train_model"]
