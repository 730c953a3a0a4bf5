"""Pushing folders, datasets and model cards with the real huggingface_hub client to a local Hub stand-in."""

import hashlib
import io
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import pandas as pd
import pytest
import yaml
from datasets import Dataset, DatasetDict
from pydantic import SecretStr

from llm_engineering.infrastructure.hf_datasets import push_to_hub
from llm_engineering.infrastructure.hub import HubError, HubPublisher, HubRepo
from llm_engineering.infrastructure.training.model_card import ModelCard, publish_model
from tests.support.hub_server import LFS_THRESHOLD, HubServer, client_for_stand_in

TOKEN = "hf_write_token"
MODEL = HubRepo("iris/llm-twin", "model")


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """What running a push with HF_HUB_OFFLINE=0 gives (the tests run offline by default)."""
    client_for_stand_in(monkeypatch)


@pytest.fixture
def hub(online: None) -> Iterator[HubServer]:
    with HubServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "nested").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (folder / "nested" / "extra.txt").write_text("x")
    return folder


def test_a_folder_arrives_byte_for_byte_in_a_new_private_repository(
    hub: HubServer, model_folder: Path
) -> None:
    published = HubPublisher(SecretStr(TOKEN), hub.origin).publish_folder(
        model_folder, MODEL, "version 3", extra_files={"README.md": b"# card\n"}
    )

    repo = hub.repos["model", "iris/llm-twin"]
    assert repo.private is True
    assert repo.commits == ["version 3"]
    assert repo.files == {
        "config.json": b'{"model_type": "llama"}',
        "model.safetensors": bytes(range(256)) * 64,
        "nested/extra.txt": b"x",
        "README.md": b"# card\n",
    }
    assert published.repo_url == f"{hub.origin}/iris/llm-twin"
    assert published.files == 4
    assert re.fullmatch(r"[0-9a-f]{40}", published.commit_oid)


def test_a_file_over_10_mb_travels_by_lfs_and_is_committed_as_a_pointer(
    hub: HubServer, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    weights = os.urandom(LFS_THRESHOLD + 1)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{}")

    HubPublisher(SecretStr(TOKEN), hub.origin).publish_folder(folder, MODEL, "v1")

    repo = hub.repos["model", "iris/llm-twin"]
    assert repo.lfs == {"model.safetensors": (hashlib.sha256(weights).hexdigest(), len(weights))}
    assert repo.files == {"config.json": b"{}"}
    assert any(path.startswith("PUT /lfs-upload/") for path in hub.paths)


def test_a_bare_name_lands_under_the_tokens_user(hub: HubServer, model_folder: Path) -> None:
    published = HubPublisher(SecretStr(TOKEN), hub.origin).publish_folder(
        model_folder, HubRepo("llm-twin", "model"), "v1"
    )
    assert published.repo_id == "iris/llm-twin" and published.repo_url == f"{hub.origin}/iris/llm-twin"
    assert hub.repos["model", "iris/llm-twin"].commits == ["v1"]


@pytest.mark.parametrize("repo_id", ["iris/llm twin", "a/b/c", "iris/-twin-", ""])
def test_an_invalid_repository_id_is_refused_before_anything_is_sent(
    hub: HubServer, model_folder: Path, repo_id: str
) -> None:
    with pytest.raises(HubError, match="is not a Hub repository id"):
        HubPublisher(SecretStr(TOKEN), hub.origin).publish_folder(
            model_folder, HubRepo(repo_id, "model"), "v1"
        )
    assert hub.paths == []


def test_a_second_push_to_an_existing_repository_is_a_second_commit(
    hub: HubServer, model_folder: Path
) -> None:
    publisher = HubPublisher(SecretStr(TOKEN), hub.origin)
    first = publisher.publish_folder(model_folder, MODEL, "v1")
    (model_folder / "config.json").write_text('{"model_type": "llama", "v": 2}')
    second = publisher.publish_folder(model_folder, HubRepo("iris/llm-twin", "model", private=False), "v2")

    repo = hub.repos["model", "iris/llm-twin"]
    assert repo.commits == ["v1", "v2"]
    assert repo.files["config.json"] == b'{"model_type": "llama", "v": 2}'
    assert repo.private is True  # created private; a later push does not change visibility
    assert first.commit_oid != second.commit_oid


def test_a_rejected_token_says_what_to_check_and_commits_nothing(hub: HubServer, model_folder: Path) -> None:
    publisher = HubPublisher(SecretStr("hf_wrong"), hub.origin)
    with pytest.raises(HubError, match="HUGGINGFACE_ACCESS_TOKEN is valid and has write access"):
        publisher.publish_folder(model_folder, MODEL, "v1")
    assert hub.repos == {}


def test_without_a_token_nothing_is_sent(hub: HubServer, model_folder: Path) -> None:
    with pytest.raises(HubError, match="needs HUGGINGFACE_ACCESS_TOKEN"):
        HubPublisher(None, hub.origin).publish_folder(model_folder, MODEL, "v1")
    assert hub.paths == []


def test_offline_mode_asks_for_hf_hub_offline_0(model_folder: Path) -> None:
    assert huggingface_hub.constants.is_offline_mode()  # as the tests (and the project's commands) run
    with pytest.raises(HubError, match="run the command with HF_HUB_OFFLINE=0"):
        HubPublisher(SecretStr(TOKEN), "https://huggingface.co").publish_folder(model_folder, MODEL, "v1")


def test_an_unreachable_hub_is_a_clear_error(online: None, model_folder: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    publisher = HubPublisher(SecretStr(TOKEN), f"http://127.0.0.1:{port}")
    with pytest.raises(
        HubError, match=r"Could not reach the Hub at http://127\.0\.0\.1:\d+ to push iris/llm-twin"
    ):
        publisher.publish_folder(model_folder, MODEL, "v1")


def test_an_empty_folder_is_refused(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(HubError, match="holds no files; there is nothing to push"):
        HubPublisher(SecretStr(TOKEN), hub.origin).publish_folder(tmp_path, MODEL, "v1")
    assert hub.paths == []


def test_datasets_go_up_as_parquet_splits_the_hub_reads(hub: HubServer) -> None:
    rows = [{"instruction": f"q{i}", "output": f"a{i}", "category": "article"} for i in range(5)]
    datasets = DatasetDict({"train": Dataset.from_list(rows[:3]), "test": Dataset.from_list(rows[3:])})

    published = push_to_hub(datasets, "iris/twin-instruct", HubPublisher(SecretStr(TOKEN), hub.origin))

    repo = hub.repos["dataset", "iris/twin-instruct"]
    assert sorted(repo.files) == ["data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"]
    train = pd.read_parquet(io.BytesIO(repo.files["data/train-00000-of-00001.parquet"]))
    assert train.to_dict("records") == rows[:3]
    assert published.repo_url == f"{hub.origin}/datasets/iris/twin-instruct"


def test_the_model_card_passes_the_hubs_metadata_check(hub: HubServer, model_folder: Path) -> None:
    stages = {
        "sft": {"steps": 5, "first_loss": 3.9312, "last_loss": 3.5, "eval_loss": 3.39},
        "dpo": {"steps": 6, "first_loss": 0.6931, "last_loss": 0.684, "eval_loss": None},
    }
    facts = ModelCard("7", "lora", stages, "Write like Iris.\n\nBe brief.", {"judge_score": 1.38})

    publish_model(HubPublisher(SecretStr(TOKEN), hub.origin), model_folder, MODEL, facts)

    assert "POST /api/validate-yaml" in hub.paths
    card = hub.repos["model", "iris/llm-twin"].files["README.md"].decode()
    assert hub.repos["model", "iris/llm-twin"].commits == ["LLM Twin version 7"]
    front = yaml.safe_load(card.split("---")[1])
    assert front["tags"] == ["llm-twin", "trl", "sft", "dpo"]
    assert (
        "| sft | supervised fine-tuning on the instruction dataset | 5 | 3.9312 → 3.5000 | 3.3900 |" in card
    )
    assert "| dpo | DPO on the preference dataset | 6 | 0.6931 → 0.6840 | — |" in card
    assert "| judge_score | 1.3800 |" in card
    assert "> Write like Iris.\n>\n> Be brief." in card
    assert "Registry version `7`" in card
