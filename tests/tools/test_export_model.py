"""`models export`: a registered version's merged model as a GGUF file and an Ollama Modelfile."""

from collections.abc import Iterator
from pathlib import Path

import gguf
import pytest
from click.testing import CliRunner, Result

from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT
from llm_engineering.domain.registry import Key
from llm_engineering.infrastructure.container import get_settings
from llm_engineering.infrastructure.container import models as container_models
from tests.infrastructure.llm.test_gguf_export import tiny_llama
from tests.support.fakes import InMemoryRegistry
from tools.registry import models


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InMemoryRegistry]:
    """The in-memory registry, and a DATA_DIR of this test's own (in a folder without a `.env`)."""
    monkeypatch.chdir(tmp_path)
    registry = InMemoryRegistry()
    monkeypatch.setattr(container_models, "get_model_registry", lambda: registry)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield registry
    get_settings.cache_clear()


def cli(*args: str) -> Result:
    return CliRunner().invoke(models, ["export", *args])


def test_export_writes_the_gguf_and_a_modelfile_under_data_dir(
    registry: InMemoryRegistry, tmp_path: Path
) -> None:
    registry.register()
    registry.register(tiny_llama(tmp_path / "model"), **{Key.SYSTEM_PROMPT: "Answer as Iris Calder."})

    result = cli("2", "--format", "gguf")

    assert result.exit_code == 0, result.output
    folder = tmp_path / "data" / "exports" / "llm_twin-v2"
    reader = gguf.GGUFReader(folder / "llm_twin-v2.gguf")
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_F16
    assert "<|im_start|>" in reader.fields["tokenizer.chat_template"].contents()
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./llm_twin-v2.gguf\n")
    assert 'SYSTEM """Answer as Iris Calder."""' in modelfile  # the prompt the version trained with
    assert f"is in {folder}: llm_twin-v2.gguf (f16" in result.output
    assert f"ollama create llm-twin -f {folder / 'Modelfile'}" in result.output
    assert f"llama-cli -m {folder / 'llm_twin-v2.gguf'}" in result.output


def test_export_to_a_chosen_folder_in_f32_with_the_default_system_prompt(
    registry: InMemoryRegistry, tmp_path: Path
) -> None:
    registry.register(tiny_llama(tmp_path / "model"))  # registered before system prompts were logged

    result = cli("1", "--dtype", "f32", "--out", str(tmp_path / "out"))

    assert result.exit_code == 0, result.output
    reader = gguf.GGUFReader(tmp_path / "out" / "llm_twin-v1.gguf")
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.ALL_F32
    assert f'SYSTEM """{TWIN_SYSTEM_PROMPT}"""' in (tmp_path / "out" / "Modelfile").read_text()


def test_an_unknown_version_fails_with_one_line(registry: InMemoryRegistry) -> None:
    result = cli("7")
    assert result.exit_code == 1
    assert result.output == "Error: No version '7'.\n"


def test_a_version_without_its_model_on_this_machine_fails_with_one_line(
    registry: InMemoryRegistry, tmp_path: Path
) -> None:
    registry.register()
    registry.register(tmp_path / "elsewhere")

    for version, reason in (("1", "has no logged model_dir"), ("2", "has no merged model on this machine")):
        result = cli(version)
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: llm_twin version {version} {reason}")
        assert result.output.count("\n") == 1
    assert not (tmp_path / "data" / "exports").exists()


def test_an_unknown_format_or_dtype_is_refused_by_the_command_line(registry: InMemoryRegistry) -> None:
    assert cli("1", "--format", "onnx").exit_code == 2
    assert cli("1", "--dtype", "q4_0").exit_code == 2
