"""Dataset generation end to end: sample sources → warehouse → feature store → datasets, with the LLM
behind a local chat-completions server spoken to over HTTP."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from zenml.client import Client

from pipelines import digital_data_etl, feature_engineering, generate_datasets
from tests.support.chat_server import ChatServer, Reply
from tools.run import cli

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "iris-calder"


def scripted(body: dict[str, Any], attempt: int) -> Reply:
    """A question about each passage; a generic answer to each question."""
    user = body["messages"][-1]["content"]
    if "Write one question" in user:
        passage = user.split("\n", 1)[1]
        words = re.findall(r"[A-Za-z]{4,}", passage)[:3]
        return Reply(content=f"How would you explain {' '.join(words)} to a colleague?")
    return Reply(
        content="Generally speaking, it depends on your needs, and there are many options to consider."
    )


@pytest.fixture
def chat_server(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    with ChatServer(scripted) as server:
        monkeypatch.setenv("LLM_BACKEND", "openai")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def test_both_datasets_are_built_versioned_and_exported(chat_server: ChatServer, data_dir: Path) -> None:
    links = [f"folder:{SAMPLES / 'notes'}", f"linkedin-export:{SAMPLES / 'linkedin-export'}"]
    digital_data_etl.with_options(enable_cache=False)(user_full_name="Iris Calder", links=links)
    feature_engineering.with_options(enable_cache=False)(author_full_names=["Iris Calder"])

    generate_datasets.with_options(enable_cache=False)(dataset_type="instruction")
    instruct = Client().get_artifact_version("instruct_datasets")
    datasets = instruct.load()
    assert datasets["train"].column_names[:2] == ["instruction", "output"]
    assert len(datasets["train"]) > 0 and len(datasets["test"]) > 0
    assert all(row["instruction"].startswith("How would you explain") for row in datasets["train"])
    metadata = instruct.run_metadata
    assert metadata["usage"]["calls"] >= metadata["passages"] > 0
    assert set(metadata["counts"]) == {"train", "test"}

    generate_datasets.with_options(enable_cache=False)(dataset_type="preference")
    preference = Client().get_artifact_version("preference_datasets").load()
    row = preference["train"][0]
    assert row["rejected"].startswith("Generally speaking") and row["chosen"] != row["rejected"]

    out = data_dir / "export"
    result = CliRunner().invoke(cli, ["export-dataset", "instruct_datasets", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = (out / "train.jsonl").read_text().splitlines()
    assert len(lines) == len(datasets["train"]) and json.loads(lines[0])["instruction"]
