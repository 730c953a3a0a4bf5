"""The real SmolLM2-135M-Instruct, converted once per test session from the GGUF its package ships."""

from pathlib import Path

import pytest

from llm_engineering.infrastructure.llm.local.model import ensure_local_model


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_local_model(tmp_path_factory.mktemp("models") / "smollm2")
