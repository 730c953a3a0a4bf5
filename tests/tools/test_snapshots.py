"""Snapshots of the pipelines in a temporary ZenML store, named like their commands, from their configs."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from zenml.client import Client
from zenml.enums import StackComponentType

from tests.support.zenml_store import isolated_zenml
from tools.run import CONFIGS
from tools.snapshots import snapshots


@pytest.fixture(scope="module", autouse=True)
def zen_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_zenml(tmp_path_factory.mktemp("zenml")):
        yield


def create(*pipelines: str) -> str:
    result = CliRunner().invoke(snapshots, ["create", *pipelines])
    assert result.exit_code == 0, result.output
    return result.output


def test_each_named_pipeline_gets_a_snapshot_of_its_default_config(data_dir: Path) -> None:
    output = create("training", "digital-data-etl")

    named = Client().list_snapshots(named_only=True, hydrate=True).items
    assert sorted((item.name, item.pipeline.name) for item in named) == [
        ("digital-data-etl", "digital_data_etl"),
        ("training", "training"),
    ]
    etl = next(item for item in named if item.name == "digital-data-etl")
    config = yaml.safe_load((CONFIGS / "digital_data_etl_iris_calder.yaml").read_text())
    assert etl.pipeline_configuration.parameters["links"] == config["parameters"]["links"]
    # ZenML's default stack has a local deployer; no remote build, so no server could run them.
    assert "deploy it: zenml pipeline snapshot deploy training -p training" in output
    assert "run it" not in output


def test_creating_again_replaces_and_without_a_deployer_nothing_starts_it(data_dir: Path) -> None:
    client = Client()
    components = {StackComponentType.ORCHESTRATOR: "default", StackComponentType.ARTIFACT_STORE: "default"}
    client.create_stack("no-deployer", components)
    client.activate_stack("no-deployer")
    try:
        output = create("training")
    finally:
        client.activate_stack("default")

    assert "its stack has no deployer and it has no remote Docker build" in output
    training = client.list_snapshots(named_only=True, name="training", hydrate=True).items
    assert len(training) == 1 and training[0].stack.name == "no-deployer"
