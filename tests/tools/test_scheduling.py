"""The schedule commands: ZenML schedules on a schedulable orchestrator, the crontab or systemd otherwise.

The commands take their ZenML side as a port: a stand-in here, and the real client against a temporary store
with a stand-in schedulable orchestrator in the last test. The local side runs for real in a temporary home.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from zenml.client import Client
from zenml.enums import StackComponentType

from tests.support.fake_programs import fake_crontab
from tests.support.schedulable_orchestrator import FLAVOR, StandInOrchestrator
from tests.support.zenml_store import isolated_zenml
from tools.run import CONFIGS
from tools.scheduling import Orchestrator, Ports, StoredSchedule, schedules

LOCAL = Orchestrator("default", "local", schedulable=False)


class StandInSchedules:
    """The ZenML side of the commands, kept in memory."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.created: list[tuple[str, Path, str, str]] = []
        self.stored: dict[str, StoredSchedule] = {}

    def active_orchestrator(self) -> Orchestrator:
        return self.orchestrator

    def create(self, pipeline: str, config: Path, name: str, cron_expression: str) -> None:
        self.created.append((pipeline, config, name, cron_expression))
        self.stored[name] = StoredSchedule(name, cron_expression, active=True)

    def existing(self) -> list[StoredSchedule]:
        return list(self.stored.values())

    def delete(self, name: str) -> list[str] | None:
        return [] if self.stored.pop(name, None) else None


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    """A temporary home with a stand-in `crontab` (its table in home/crontab.txt) alone on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    fake_crontab(tmp_path / "bin", home / "crontab.txt")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def invoke(zenml: StandInSchedules, home: Path, *args: str) -> Result:
    return CliRunner().invoke(schedules, list(args), obj=Ports(zenml, home))


@pytest.mark.parametrize(
    ("flavor", "written"), [("kubernetes", "0 3 * * 1-5"), ("sagemaker", "0 3 ? * MON,TUE,WED,THU,FRI *")]
)
def test_a_schedulable_orchestrator_gets_a_zenml_schedule_in_its_dialect(
    home: Path, flavor: str, written: str
) -> None:
    zenml = StandInSchedules(Orchestrator("remote", flavor, schedulable=True))

    result = invoke(zenml, home, "create", "training", "--cron", "0 3 * * 1-5")

    assert result.exit_code == 0, result.output
    assert zenml.created == [("training", CONFIGS / "training.yaml", "training", written)]
    assert f"Created the ZenML schedule 'training' on remote ({flavor}): cron '{written}'" in result.output
    assert not (home / "crontab.txt").exists()  # nothing local when ZenML schedules it


def test_on_the_local_stack_the_crontab_gets_the_line_and_list_and_delete_find_it(
    home: Path, data_dir: Path
) -> None:
    zenml = StandInSchedules(LOCAL)
    zenml.stored["nightly"] = StoredSchedule("nightly", "0 1 * * *", active=False)

    result = invoke(zenml, home, "create", "evaluating", "--cron", "15 2 * * *")

    assert result.exit_code == 0, result.output
    assert zenml.created == []
    table = (home / "crontab.txt").read_text().splitlines()
    assert table[0] == "# llm-twin schedule evaluating"
    assert table[1].endswith(f"-m tools.run evaluating >> {data_dir.resolve() / 'logs/evaluating.log'} 2>&1")
    assert (data_dir / "logs").is_dir()
    assert (
        f"Installed in your crontab (`crontab -l` shows it):\n  {table[0]}\n  {table[1]}\n" in result.output
    )
    assert "Remove it: `poe schedules-delete evaluating`" in result.output

    listed = invoke(zenml, home, "list").output.splitlines()
    assert listed == [
        "nightly  0 1 * * *  ZenML schedule, inactive",
        "evaluating  15 2 * * *  crontab: crontab -l",
    ]

    deleted = invoke(zenml, home, "delete", "evaluating")
    assert deleted.exit_code == 0 and "Removed evaluating from your crontab" in deleted.output
    assert (home / "crontab.txt").read_text() == ""
    assert invoke(zenml, home, "delete", "nightly").output == "Deleted the ZenML schedule 'nightly'.\n"
    assert "No schedules" in invoke(zenml, home, "list").output
    missing = invoke(zenml, home, "delete", "nightly")
    assert missing.exit_code == 1 and "No schedule named 'nightly'" in missing.output


def test_a_config_goes_with_the_scheduled_command(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("parameters: {}\n")
    assert invoke(
        StandInSchedules(LOCAL), home, "create", "training", "--cron", "0 3 * * 0", "--config", str(config)
    )
    line = (home / "crontab.txt").read_text().splitlines()[1]
    assert f"-m tools.run training --config {config} >>" in line


def test_systemd_units_are_written_when_asked_and_nothing_answers(home: Path) -> None:
    result = invoke(
        StandInSchedules(LOCAL), home, "create", "training", "--cron", "0 3 * * *", "--via", "systemd"
    )

    assert result.exit_code == 0, result.output
    assert (home / ".config/systemd/user/llm-twin-training.timer").exists()
    assert "Still to run:\n  systemctl --user daemon-reload\n  systemctl --user enable --now" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cron", "0 3 * *"), "has 4 fields; it needs 5"),
        (("--cron", "0 25 * * *"), "hour 25 is outside 0-23"),
        (("--cron", "0 3 * * *", "--via", "zenml"), "'default' (local) cannot run schedules"),
    ],
)
def test_refusals_say_why_and_install_nothing(home: Path, args: tuple[str, ...], message: str) -> None:
    zenml = StandInSchedules(LOCAL)
    result = invoke(zenml, home, "create", "training", *args)
    assert result.exit_code == 1 and message in result.output
    assert zenml.created == [] and not (home / "crontab.txt").exists()


def test_sagemaker_is_not_asked_to_schedule_a_dynamic_pipeline_and_the_refusal_names_the_other_ways(
    home: Path,
) -> None:
    zenml = StandInSchedules(Orchestrator("aws", "sagemaker", schedulable=True))
    result = invoke(zenml, home, "create", "continuous-training", "--cron", "0 3 * * *")
    assert (
        result.exit_code == 1 and "cannot schedule continuous_training, a dynamic pipeline" in result.output
    )
    assert "continuous-training.yml" in result.output and zenml.created == []

    kubernetes = StandInSchedules(Orchestrator("k8s", "kubernetes", schedulable=True))
    result = invoke(kubernetes, home, "create", "continuous-training", "--cron", "0 3 * * *")
    assert result.exit_code == 0, result.output
    assert kubernetes.created == [
        ("continuous_training", CONFIGS / "continuous_training.yaml", "continuous-training", "0 3 * * *")
    ]


@pytest.fixture
def schedulable_stack(tmp_path: Path) -> Iterator[None]:
    """A temporary ZenML store whose active stack's orchestrator is the schedulable stand-in."""
    with isolated_zenml(tmp_path / "zenml"):
        client = Client()
        client.create_flavor(
            source="tests.support.schedulable_orchestrator.StandInOrchestratorFlavor",
            component_type=StackComponentType.ORCHESTRATOR,
        )
        client.create_stack_component("stand-in", FLAVOR, StackComponentType.ORCHESTRATOR, {})
        orchestrator, artifacts = StackComponentType.ORCHESTRATOR, StackComponentType.ARTIFACT_STORE
        client.create_stack("schedulable", {orchestrator: "stand-in", artifacts: "default"})
        client.activate_stack("schedulable")
        StandInOrchestrator.scheduled.clear()
        StandInOrchestrator.deleted.clear()
        yield


def test_the_zenml_client_creates_lists_and_deletes_the_schedule(
    schedulable_stack: None, home: Path, data_dir: Path
) -> None:
    runner = CliRunner()  # no port passed: the commands use the real ZenML client

    created = runner.invoke(schedules, ["create", "training", "--cron", "0 3 * * *"])

    assert created.exit_code == 0, created.output
    assert StandInOrchestrator.scheduled == [("training", "0 3 * * *")]
    stored = Client().get_schedule("training", allow_name_prefix_match=False)
    assert (stored.cron_expression, stored.active) == ("0 3 * * *", True)
    assert Client().get_pipeline("training").id == stored.pipeline_id
    again = runner.invoke(schedules, ["create", "training", "--cron", "0 4 * * *"])
    assert again.exit_code == 1 and "remove it with `poe schedules-delete training` first" in again.output

    assert runner.invoke(schedules, ["list"]).output == "training  0 3 * * *  ZenML schedule, active\n"
    deleted = runner.invoke(schedules, ["delete", "training"])
    assert deleted.exit_code == 0 and "Deleted the ZenML schedule 'training'" in deleted.output
    assert StandInOrchestrator.deleted == ["training"]
    assert Client().list_schedules(name="training").total == 0
