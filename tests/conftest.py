"""Test-wide isolation: ZenML and the embedded stores live in temporary folders."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before any test imports ZenML, so no test touches the user's own ZenML store or the
# checkout's .zen/config.yaml; the checkout stays the source root steps are imported from.
_ZENML_HOME = Path(tempfile.mkdtemp(prefix="twin-zenml-"))
(_ZENML_HOME / "repository" / ".zen").mkdir(parents=True)
os.environ["ZENML_CONFIG_PATH"] = str(_ZENML_HOME / "config")
os.environ["ZENML_REPOSITORY_PATH"] = str(_ZENML_HOME / "repository")
os.environ["ZENML_CUSTOM_SOURCE_ROOT"] = str(Path(__file__).resolve().parents[1])
os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
os.environ.setdefault("ZENML_LOGGING_VERBOSITY", "WARN")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["AUTO_OPEN_DASHBOARD"] = "false"


def _clear_container() -> None:
    from llm_engineering.infrastructure import container

    container.clear()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the settings at an empty data folder (so an empty embedded warehouse)."""
    directory = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(directory))
    monkeypatch.delenv("DATABASE_HOST", raising=False)
    _clear_container()
    yield directory
    _clear_container()


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real SmolLM2-135M-Instruct, converted once per test session from the GGUF its package ships."""
    from llm_engineering.infrastructure.llm.local.model import ensure_local_model

    return ensure_local_model(tmp_path_factory.mktemp("models") / "smollm2")
