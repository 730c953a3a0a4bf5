"""The model registry's vocabulary: the twin's name, its stages, a version and the keys logged on it.

Every module that reads or writes the registry (training, evaluation, promotion, serving, deployment and
the `models` commands) names these, so a key is spelled once.
"""

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TWIN_MODEL_NAME = "llm_twin"
"""The twin's name in the registry; every training run adds a version of it."""


class Stage(StrEnum):
    """The stages a version can be promoted to; the registry keeps at most one version in each."""

    STAGING = "staging"
    PRODUCTION = "production"


class Artifact(StrEnum):
    """Names of the artifacts pipelines pass on through the artifact store."""

    RAW_DOCUMENTS = "raw_documents"
    CLEANED_DOCUMENTS = "cleaned_documents"
    EMBEDDED_DOCUMENTS = "embedded_documents"
    INSTRUCT_DATASETS = "instruct_datasets"
    PREFERENCE_DATASETS = "preference_datasets"


class Key(StrEnum):
    """Keys of the facts logged on a version."""

    MODEL_DIR = "model_dir"
    """The merged Hugging Face model folder the training run wrote."""
    MODEL_URI = "model_uri"
    """Where that folder was uploaded (s3://…) when the run's artifact store is remote: a SageMaker job's disk
    goes with the job, so this copy is the one evaluation, serving and deployment fetch."""
    ENGINE_DIR = "engine_dir"
    """The local engine's files converted from that folder (absent when the engine is transformers)."""
    METHOD = "method"
    STAGES = "stages"
    SYSTEM_PROMPT = "system_prompt"
    FEEDBACK_PAIRS = "feedback_pairs"
    DATASETS = "datasets"
    """The dataset artifact versions a version was trained on: artifact name → version id."""
    METRICS = "evaluation_metrics"
    """The candidate's metrics from its evaluation: a mapping of metric name to value."""
    FIDELITY = "style_fidelity"
    """Style fidelity of that evaluation per label (author, base, production, candidate): share, low, high."""
    VERDICT = "evaluation_verdict"
    """promote, tie or worse: the promotion rule's verdict on the candidate."""
    PROMOTED_TO = "promoted_to"
    PROMOTION_REASON = "promotion_reason"
    PROMOTED_BY = "promoted_by"
    PROMOTED_AT = "promoted_at"
    PREVIOUS_PRODUCTION = "previous_production"
    """The number of the version that held production before this one took it."""
    ROLLED_BACK_FROM = "rolled_back_from"
    HUB_URL = "hub_url"
    HUB_COMMIT = "hub_commit"


# Versions evaluated before metrics were logged as one mapping carry these flat keys instead.
LEGACY_METRIC_KEYS = ("judge_score", "rouge_l", "bleu")


class ModelVersion(BaseModel):
    """One version of the twin as the registry holds it: number, name, stage and what was logged on it."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1)
    name: str
    stage: str | None = Field(None, description="staging, production, archived (by the registry), or None.")
    created: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name it: `llm_twin version 3`."""
        return f"{TWIN_MODEL_NAME} version {self.number}"

    @property
    def model_dir(self) -> Path | None:
        """The merged model folder logged by the training run, None when none was logged."""
        value = self.metadata.get(Key.MODEL_DIR)
        return None if value is None else Path(str(value))

    @property
    def model_uri(self) -> str | None:
        """The uploaded copy of that folder, None when the run kept it on its own disk only."""
        value = self.metadata.get(Key.MODEL_URI)
        return None if value is None else str(value)

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics its evaluation logged, by name; empty before it was evaluated."""
        logged = self.metadata.get(Key.METRICS)
        if isinstance(logged, dict):
            return {str(name): float(value) for name, value in logged.items()}
        return {key: float(self.metadata[key]) for key in LEGACY_METRIC_KEYS if key in self.metadata}
