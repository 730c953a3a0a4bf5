"""A ZenML store of a test module's own, apart from the session-wide one the conftest sets up."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from zenml.client import Client
from zenml.config.global_config import GlobalConfiguration


@contextmanager
def isolated_zenml(root: Path) -> Iterator[None]:
    """A fresh ZenML global config and store under `root`; the process-wide singletons come back after."""
    saved_config, saved_client = GlobalConfiguration.get_instance(), Client.get_instance()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZENML_CONFIG_PATH", str(root / "zen"))
        # No `.zen` under root: the client keeps its active stack in this global config, not the checkout's.
        patch.setenv("ZENML_REPOSITORY_PATH", str(root))
        patch.setenv("ZENML_ANALYTICS_OPT_IN", "false")
        GlobalConfiguration._reset_instance()
        Client._reset_instance()
        try:
            yield
        finally:
            GlobalConfiguration._reset_instance()
            Client._reset_instance()
    # Restored after the environment, since resetting to a config rewrites it at ZENML_CONFIG_PATH.
    GlobalConfiguration._reset_instance(saved_config)
    Client._reset_instance(saved_client)


def add_twin_version(name: str | None = None, **metadata: float | str) -> int:
    """A new version of the twin, as a training run leaves it (named, with facts logged); its number."""
    from zenml import log_metadata

    from llm_engineering.domain.registry import TWIN_MODEL_NAME

    client = Client()
    if not client.list_models(name=TWIN_MODEL_NAME).total:
        client.create_model(TWIN_MODEL_NAME)
    version = client.create_model_version(TWIN_MODEL_NAME, name=name)
    if metadata:
        log_metadata(metadata=dict(metadata), model_version_id=version.id)
    return version.number


def delete_twin_model() -> None:
    """Remove the twin and all its versions, so the next test starts from none."""
    from llm_engineering.domain.registry import TWIN_MODEL_NAME

    client = Client()
    if client.list_models(name=TWIN_MODEL_NAME).total:
        client.delete_model(TWIN_MODEL_NAME)
