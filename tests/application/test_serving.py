"""The serving policy: which model answers, decided once for the service, deployment and evaluation."""

from pathlib import Path

import pytest

from llm_engineering.application.serving import ServedFrom, choose_served_model
from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.registry import Stage
from tests.support.fakes import InMemoryRegistry


def registry_with_production() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    registry.register(Path("/models/v1"))
    registry.register(Path("/models/v2"))
    registry.promote(1, Stage.PRODUCTION, "first release")
    return registry


def test_a_pinned_folder_answers_whatever_the_registry_holds() -> None:
    served = choose_served_model(registry_with_production(), Path("/models/mine"), allow_backend=False)
    assert served.source is ServedFrom.PINNED and served.model_dir == Path("/models/mine")
    assert served.version is None
    assert "SERVICE_MODEL_DIR" in served.describe()


def test_the_production_version_answers_with_its_folder_not_the_newest() -> None:
    served = choose_served_model(registry_with_production(), None, allow_backend=False)
    assert served.source is ServedFrom.PRODUCTION and served.model_dir == Path("/models/v1")
    assert served.version is not None and served.version.number == 1
    assert served.describe() == "llm_twin version 1 (production)"


def test_without_production_the_backend_answers_only_when_allowed() -> None:
    registry = InMemoryRegistry()
    registry.register(Path("/models/v1"))
    served = choose_served_model(registry, None, allow_backend=True)
    assert served.source is ServedFrom.BACKEND and served.model_dir is None and served.version is None
    with pytest.raises(RegistryError, match=r"poe run-evaluation-pipeline.*SERVING_FALLBACK=backend"):
        choose_served_model(registry, None, allow_backend=False)


def test_a_production_version_without_a_model_folder_is_an_error_not_a_fallback() -> None:
    registry = InMemoryRegistry()
    registry.register()
    registry.promote(1, Stage.PRODUCTION, "promoted by hand")
    with pytest.raises(RegistryError, match="no logged model_dir"):
        choose_served_model(registry, None, allow_backend=True)
