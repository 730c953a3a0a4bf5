"""Which integrations training reports to, from the settings, and a run reported to Comet's offline mode."""

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.training import tracking, trl_training
from llm_engineering.infrastructure.training.models import precision_for

EXPORTED = (
    "COMET_API_KEY",
    "COMET_PROJECT_NAME",
    "COMET_WORKSPACE",
    "COMET_START_ONLINE",
    "COMET_OFFLINE_DIRECTORY",
    "COMET_ERROR_TRACKING_ENABLE",
    "COMET_MODE",
)


@pytest.fixture(autouse=True)
def clean_comet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset before and restored after: `experiment_trackers` writes these, and later tests read them."""
    for name in EXPORTED:
        monkeypatch.setenv(name, "")  # recorded, so the original state comes back after the test
        monkeypatch.delenv(name)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_without_a_key_nothing_but_zenml_is_reported() -> None:
    assert tracking.experiment_trackers(settings()) == []
    assert "COMET_API_KEY" not in os.environ


def test_a_key_without_the_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TwinError, match="pip install comet-ml"):
        tracking.experiment_trackers(settings(comet_api_key="c0met-key-123"))


def test_a_key_turns_comet_on_and_exports_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name == "comet_ml" else real_find_spec(name)
    )
    chosen = tracking.experiment_trackers(
        settings(comet_api_key="c0met-key-123", comet_project="twin-runs", comet_workspace="iris")
    )
    assert chosen == ["comet_ml"]
    assert (os.environ["COMET_API_KEY"], os.environ["COMET_PROJECT_NAME"]) == ("c0met-key-123", "twin-runs")
    assert (os.environ["COMET_WORKSPACE"], os.environ["COMET_START_ONLINE"]) == ("iris", "true")
    assert os.environ["COMET_MODE"] == "create"  # one experiment per stage
    assert "COMET_OFFLINE_DIRECTORY" not in os.environ


@pytest.mark.parametrize("directory", [None, "archives"])
def test_offline_mode_needs_no_key_and_writes_where_the_settings_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: str | None
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative directory is the working directory's
    chosen = tracking.experiment_trackers(
        settings(comet_start_online=False, data_dir=tmp_path / "data", comet_offline_directory=directory)
    )
    assert chosen == ["comet_ml"]
    expected = tmp_path / (directory or "data/comet")
    assert os.environ["COMET_OFFLINE_DIRECTORY"] == str(expected.resolve())
    assert (os.environ["COMET_START_ONLINE"], os.environ["COMET_ERROR_TRACKING_ENABLE"]) == ("false", "false")
    assert "COMET_API_KEY" not in os.environ


def test_offline_mode_without_the_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TwinError, match=r"COMET_START_ONLINE=false.*pip install comet-ml"):
        tracking.experiment_trackers(settings(comet_start_online=False))


# What the trainer does with `report_to`, minus the model: its Comet callback, driven stage by stage with the
# arguments and states a run would give it. The process then exits, and comet_ml writes the last archive as it
# does after a real run. A process of its own keeps comet_ml's import hooks out of the test session.
OFFLINE_RUN = """
import sys
from transformers import TrainerControl, TrainerState, TrainingArguments
from transformers.integrations.integration_utils import get_reporting_integration_callbacks
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.training.tracking import experiment_trackers

data_dir, output_dir = sys.argv[1:]
report_to = experiment_trackers(
    Settings(_env_file=None, comet_start_online=False, comet_project="twin-runs", data_dir=data_dir)
)
for stage, scale in (("sft", 1.0), ("dpo", 0.5)):  # each stage has a trainer, so callbacks, of its own
    [callback_class] = get_reporting_integration_callbacks(report_to)
    callback = callback_class()
    args = TrainingArguments(
        output_dir=output_dir, run_name=f"run-7-{stage}", report_to=report_to, learning_rate=2e-4 * scale,
        use_cpu=True,
    )
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(args, state, control)
    for step, loss in ((10, 1.25), (20, 0.75)):
        state.global_step, state.epoch = step, step / 20
        callback.on_log(args, state, control, logs={"loss": loss * scale, "learning_rate": 2e-4 * scale})
    callback.on_log(args, state, control, logs={"eval_loss": 0.9 * scale})
    callback.on_train_end(args, state, control)

import comet_ml.error_tracking
assert not comet_ml.error_tracking.enabled_in_config(), "comet_ml's own error reports are on"
"""


def archived_run(archive: Path) -> tuple[str, dict[tuple[str, int], float], dict[str, object]]:
    """The project, the trainer's metrics by (name, step), and the parameters of a Comet offline archive."""
    with zipfile.ZipFile(archive) as opened:
        project = json.loads(opened.read("experiment.json"))["project_name"]
        messages = [json.loads(line) for line in opened.read("messages.json").decode().splitlines()]
    logged = [m["payload"]["metric"] for m in messages if m["type"] == "metric_msg"]
    metrics = {
        (metric["metricName"], metric["step"]): metric["metricValue"]
        for metric in logged
        if metric["metricName"].startswith(("train/", "eval/"))  # comet_ml adds its own sys.* readings
    }
    # A list-valued parameter comes as `params`, any other as `param`.
    parameters = [
        m["payload"].get("param") or m["payload"]["params"] for m in messages if m["type"] == "parameter_msg"
    ]
    return project, metrics, {param["paramName"]: param["paramValue"] for param in parameters}


def test_a_run_reported_offline_lands_in_comets_archives_one_per_stage(tmp_path: Path) -> None:
    # Comet learns of the settings from what `experiment_trackers` exports, and from nothing else.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("COMET_")}
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_RUN, str(tmp_path), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # outside the repository: comet_ml would otherwise archive its git patch
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [archived_run(archive) for archive in (tmp_path / "comet").glob("*.zip")]
    by_stage = {
        parameters["args|run_name"]: (project, metrics, parameters) for project, metrics, parameters in runs
    }
    assert sorted(by_stage) == ["run-7-dpo", "run-7-sft"]
    for stage, scale in (("sft", 1.0), ("dpo", 0.5)):
        project, metrics, parameters = by_stage[f"run-7-{stage}"]
        assert project == "twin-runs"
        assert metrics == pytest.approx(
            {
                ("train/loss", 10): 1.25 * scale,
                ("train/learning_rate", 10): 2e-4 * scale,
                ("train/loss", 20): 0.75 * scale,
                ("train/learning_rate", 20): 2e-4 * scale,
                ("eval/loss", 20): 0.9 * scale,
            }
        )
        assert parameters["args|learning_rate"] == pytest.approx(2e-4 * scale)


@pytest.mark.parametrize(("report_to", "expected"), [((), "none"), (("comet_ml",), ["comet_ml"])])
def test_the_trainer_arguments_carry_the_trackers(
    tmp_path: Path, report_to: tuple[str, ...], expected: object
) -> None:
    config = TrainingConfig()
    run = trl_training._Run(config, None, tmp_path / "run-7", precision_for(config), report_to)
    arguments = trl_training._arguments("sft", run, evaluates=False)
    assert arguments["report_to"] == expected and arguments["run_name"] == "run-7-sft"


@pytest.mark.parametrize(("group", "strategy"), [(False, "random"), (True, "group_by_length")])
def test_rows_of_like_length_are_batched_together_when_asked(
    tmp_path: Path, group: bool, strategy: str
) -> None:
    config = TrainingConfig(group_by_length=group)
    run = trl_training._Run(config, None, tmp_path / "run-8", precision_for(config), ())
    assert trl_training._arguments("sft", run, evaluates=False)["train_sampling_strategy"] == strategy
    assert trl_training._arguments("dpo", run, evaluates=False)["train_sampling_strategy"] == "random"
