"""Which model answers the twin's users: one policy for the service, SageMaker deployment and evaluation."""

from enum import StrEnum
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, ConfigDict

from llm_engineering.application.ports import ModelRegistry
from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.registry import ModelVersion


class ServedFrom(StrEnum):
    PINNED = "pinned"
    """A model folder named in the settings (SERVICE_MODEL_DIR), whatever the registry holds."""
    PRODUCTION = "production"
    """The registry's production version."""
    BACKEND = "backend"
    """No twin version yet: the LLM_BACKEND model answers, as the settings allow."""


class ServedModel(BaseModel):
    """The model that answers, and why it is that one."""

    model_config = ConfigDict(frozen=True)

    source: ServedFrom
    model_dir: Path | None = None
    """The model folder; None when the LLM_BACKEND model answers."""
    version: ModelVersion | None = None

    def describe(self) -> str:
        match self.source:
            case ServedFrom.PINNED:
                return f"the model in {self.model_dir} (SERVICE_MODEL_DIR)"
            case ServedFrom.PRODUCTION:
                return f"{self.version.label if self.version else self.model_dir} (production)"
        return "the LLM_BACKEND model (no production version of the twin yet)"


def choose_served_model(registry: ModelRegistry, pinned_dir: Path | None, allow_backend: bool) -> ServedModel:
    """SERVICE_MODEL_DIR when set; else the production version's folder; else, when allowed, the
    LLM_BACKEND model (logged), and otherwise an error that says how to get a production version."""
    if pinned_dir is not None:
        served = ServedModel(source=ServedFrom.PINNED, model_dir=pinned_dir)
    elif (production := registry.production()) is not None:
        served = ServedModel(
            source=ServedFrom.PRODUCTION, model_dir=registry.model_dir(production.number), version=production
        )
    elif allow_backend:
        served = ServedModel(source=ServedFrom.BACKEND)
        logger.warning("Answering users with {}: SERVING_FALLBACK=backend allows it.", served.describe())
        return served
    else:
        raise RegistryError(
            "No version of the twin is in production: run `poe run-evaluation-pipeline` (it promotes a "
            "better model) or `poe promote-model VERSION --stage production`, set SERVICE_MODEL_DIR, or set "
            "SERVING_FALLBACK=backend to answer with the LLM_BACKEND model until then."
        )
    logger.info("Answering users with {}.", served.describe())
    return served
