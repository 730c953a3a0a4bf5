"""`models push`: a version's merged model and card go to the Hub stand-in, and the push is recorded."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from llm_engineering.infrastructure.container.models import get_model_registry
from tests.support.hub_server import HubServer, client_for_stand_in
from tests.support.zenml_store import add_twin_version, delete_twin_model, isolated_zenml
from tools.publish import push_command

TOKEN = "hf_write_token"
STAGES = {"sft": {"steps": 5, "first_loss": 3.93, "last_loss": 3.51, "eval_loss": 3.39}}


@pytest.fixture(scope="module", autouse=True)
def zen_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_zenml(tmp_path_factory.mktemp("zenml")):
        yield


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[HubServer]:
    client_for_stand_in(monkeypatch)
    with HubServer(token=TOKEN) as server:
        monkeypatch.setenv("HUGGINGFACE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("HUGGINGFACE_ENDPOINT", server.origin)
        yield server
    delete_twin_model()


def trained_version(model_dir: Path, *without: str) -> int:
    """A version as training leaves it, with evaluation metrics on it (minus the `without` keys)."""
    metadata = {
        "model_dir": str(model_dir),
        "method": "lora",
        "stages": STAGES,
        "system_prompt": "Write like Iris.",
        "judge_score": 1.38,
        "rouge_l": 0.11,
    }
    kept = {key: value for key, value in metadata.items() if key not in without}
    return add_twin_version(**kept)  # type: ignore[arg-type]


def push(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(push_command, list(args))
    return result.exit_code, result.output


def test_a_version_goes_up_with_its_card_and_the_push_is_recorded(hub: HubServer, tmp_path: Path) -> None:
    model_dir = tmp_path / "merged"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"model_type": "llama"}')
    (model_dir / "model.safetensors").write_bytes(b"\x00" * 2048)
    number = trained_version(model_dir)

    code, output = push(str(number), "--repo-id", "iris/llm-twin")

    assert code == 0, output
    repo = hub.repos["model", "iris/llm-twin"]
    assert sorted(repo.files) == ["README.md", "config.json", "model.safetensors"]
    assert repo.private and repo.commits == [f"LLM Twin version {number}"]
    card = repo.files["README.md"].decode()
    assert yaml.safe_load(card.split("---")[1])["tags"] == ["llm-twin", "trl", "sft"]
    assert "| judge_score | 1.3800 |" in card and "| rouge_l | 0.1100 |" in card
    assert "> Write like Iris." in card
    recorded = get_model_registry().get(number).metadata
    assert recorded["hub_url"] == f"{hub.origin}/iris/llm-twin"
    assert output.strip().startswith(f"llm_twin version {number} is at {hub.origin}/iris/llm-twin (commit ")


def test_a_version_whose_model_is_gone_is_refused_before_anything_is_sent(
    hub: HubServer, tmp_path: Path
) -> None:
    number = trained_version(tmp_path / "deleted")

    code, output = push(str(number), "--repo-id", "iris/llm-twin")

    assert code == 1
    assert f"version {number} has no merged model on this machine" in output
    assert hub.paths == []


def test_a_version_training_did_not_describe_is_refused_before_anything_is_sent(
    hub: HubServer, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text("{}")
    number = trained_version(tmp_path, "method", "stages")

    code, output = push(str(number), "--repo-id", "iris/llm-twin")

    assert code == 1 and "has no logged training method and stages" in output
    assert hub.paths == []


def test_without_a_token_the_command_says_which_setting_to_set(
    hub: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUGGINGFACE_ACCESS_TOKEN", "")

    code, output = push("1", "--repo-id", "iris/llm-twin")

    assert code == 1
    assert "needs HUGGINGFACE_ACCESS_TOKEN" in output
    assert hub.paths == []
