"""The local installers in a temporary home, with stand-in `crontab` and `systemctl` programs on PATH."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from llm_engineering.domain.cron import CronError, parse_cron
from llm_engineering.infrastructure.scheduling import (
    Crontab,
    Instructions,
    LocalJob,
    SchedulingError,
    SystemdTimers,
    local_installer,
    local_schedule_stores,
)
from tests.support.fake_programs import fake_crontab, fake_systemctl

USERS_OWN = ["MAILTO=iris@example.org", "# backups", "15 1 * * * rsync -a ~/notes /mnt/backup"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home, and a PATH holding only the stand-in programs a test puts in `bin`."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout whose path needs quoting, with a `.venv/bin/python` that logs where and how it ran."""
    folder = tmp_path / "my twin's 100% checkout"
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "ran in $(pwd) with: $*"\n', encoding="utf-8")
    python.chmod(0o755)
    return folder


def job(checkout: Path, cron: str = "0 3 * * *", name: str = "continuous-training") -> LocalJob:
    argv = (".venv/bin/python", "-m", "tools.run", name)
    return LocalJob(name, parse_cron(cron), checkout, argv, checkout / "data" / "logs" / f"{name}.log")


def run_as_shell(line: str, log: Path) -> str:
    """Run a command line the way cron and the service do (`/bin/sh -c`); what it appended to the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["/bin/sh", "-c", line], check=True, env={"PATH": "/usr/bin:/bin"})
    return log.read_text(encoding="utf-8")


def test_crontab_round_trip_keeps_the_users_own_lines(home: Path, tmp_path: Path, checkout: Path) -> None:
    table = home / "crontab.txt"
    table.write_text("\n".join(USERS_OWN) + "\n")
    crontab = Crontab(str(fake_crontab(tmp_path / "bin", table)))

    report = crontab.install(job(checkout))
    assert table.read_text().splitlines()[:3] == USERS_OWN
    assert table.read_text().splitlines()[3:] == report.lines
    assert report.lines[0] == "# llm-twin schedule continuous-training"
    assert "poe schedules-delete continuous-training" in report.undo
    assert [(item.name, item.cron, item.via) for item in crontab.installed()] == [
        ("continuous-training", "0 3 * * *", "crontab")
    ]

    replaced = crontab.install(job(checkout, "30 4 * * 1"))
    assert replaced.summary.startswith("Replaced")
    assert [item.cron for item in crontab.installed()] == ["30 4 * * 1"]

    removed = crontab.remove("continuous-training")
    assert removed is not None and removed.lines == replaced.lines
    assert table.read_text() == "\n".join(USERS_OWN) + "\n"
    assert crontab.remove("continuous-training") is None


def test_the_crontab_line_runs_the_command_in_the_checkout(
    home: Path, tmp_path: Path, checkout: Path
) -> None:
    crontab = Crontab(str(fake_crontab(tmp_path / "bin", home / "crontab.txt")))
    assert crontab.installed() == []  # the user has no crontab yet
    scheduled = job(checkout)
    crontab.install(scheduled)

    entry = (home / "crontab.txt").read_text().splitlines()[1]
    fields = entry.split(maxsplit=5)
    assert " ".join(fields[:5]) == "0 3 * * *"
    assert r"100\%" in fields[5]  # cron would cut the command at a bare %
    logged = run_as_shell(fields[5].replace(r"\%", "%"), scheduled.log)  # cron's own unescaping
    assert logged == f"ran in {checkout} with: -m tools.run continuous-training\n"


def test_an_unreadable_crontab_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    broken = tmp_path / "crontab"
    broken.write_text("#!/bin/sh\necho 'crontab: permission denied' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(SchedulingError, match="permission denied"):
        Crontab(str(broken)).installed()


def test_systemd_units_are_written_and_enabled_where_a_user_manager_answers(
    home: Path, tmp_path: Path, checkout: Path
) -> None:
    calls, manager = tmp_path / "calls.txt", tmp_path / "manager"
    manager.touch()
    systemctl = fake_systemctl(tmp_path / "bin", calls, manager)
    timers = local_installer("auto", home)  # no crontab on PATH: systemd comes next
    assert isinstance(timers, SystemdTimers) and timers.systemctl == str(systemctl)
    scheduled = job(checkout, "*/30 9-17 * * mon-fri")

    report = timers.install(scheduled)

    service = home / ".config/systemd/user/llm-twin-continuous-training.service"
    timer = service.with_suffix(".timer")
    assert report.to_do == []
    assert "enabled llm-twin-continuous-training.timer" in report.summary
    assert "OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 09,10,11,12,13,14,15,16,17:00,30:00" in timer.read_text()
    assert calls.read_text().splitlines() == [
        "--user show-environment",
        "--user daemon-reload",
        "--user enable --now llm-twin-continuous-training.timer",
    ]
    assert [(item.name, item.cron) for item in timers.installed()] == [
        ("continuous-training", "*/30 9-17 * * mon-fri")
    ]

    calls.unlink()
    removed = timers.remove("continuous-training")
    assert removed is not None and removed.to_do == []
    assert not service.exists() and not timer.exists()
    assert calls.read_text().splitlines() == [
        "--user show-environment",
        "--user disable --now llm-twin-continuous-training.timer",
        "--user daemon-reload",
    ]
    assert timers.remove("continuous-training") is None


def exec_start(service: Path) -> str:
    """The shell line of the service's `ExecStart=/bin/sh -c "…"`, with systemd's escapes undone."""
    quoted = re.search(r'^ExecStart=/bin/sh -c "(.*)"$', service.read_text(), re.MULTILINE)
    assert quoted is not None
    text = quoted[1].replace("%%", "%").replace("$$", "$")
    return re.sub(r"\\(.)", r"\1", text)


def test_without_a_user_manager_the_units_are_written_and_the_commands_printed(
    home: Path, tmp_path: Path, checkout: Path
) -> None:
    calls = tmp_path / "calls.txt"
    timers = SystemdTimers(
        home / ".config/systemd/user", str(fake_systemctl(tmp_path / "bin", calls, tmp_path / "no-manager"))
    )
    scheduled = job(checkout)
    report = timers.install(scheduled)

    assert report.to_do == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now llm-twin-continuous-training.timer",
    ]
    service = home / ".config/systemd/user/llm-twin-continuous-training.service"
    assert run_as_shell(exec_start(service), scheduled.log).startswith(
        f"ran in {checkout} with: -m tools.run"
    )

    # What `systemctl --user enable` would have linked, had the user run it elsewhere.
    wants = service.parent / "timers.target.wants"
    wants.mkdir()
    (wants / "llm-twin-continuous-training.timer").symlink_to(service.with_suffix(".timer"))
    removed = timers.remove("continuous-training")
    assert removed is not None
    assert removed.to_do == [
        "systemctl --user stop llm-twin-continuous-training.timer",
        "systemctl --user daemon-reload",
    ]
    assert list(service.parent.rglob("*llm-twin*")) == []


def test_systemd_accepts_the_units(home: Path, checkout: Path) -> None:
    analyze = shutil.which("systemd-analyze", path="/usr/bin:/bin")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    SystemdTimers(home / "units", None).install(job(checkout))
    result = subprocess.run(
        [analyze, "verify", *(str(path) for path in sorted((home / "units").iterdir()))],
        capture_output=True,
        text=True,
    )
    if "Failed to initialize manager" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_a_timer_refuses_what_it_cannot_express_before_writing(home: Path, checkout: Path) -> None:
    timers = SystemdTimers(home / "units", None)
    with pytest.raises(CronError, match="--via cron"):
        timers.install(job(checkout, "0 3 1 * mon"))
    assert not (home / "units").exists()


def test_the_installer_is_the_crontab_then_systemd_then_printed_lines(home: Path, tmp_path: Path) -> None:
    assert isinstance(local_installer("auto", home), Instructions)
    with pytest.raises(SchedulingError, match="No `crontab` program"):
        local_installer("cron", home)
    fake_systemctl(tmp_path / "bin", tmp_path / "calls.txt", tmp_path / "manager")
    assert isinstance(local_installer("auto", home), SystemdTimers)
    fake_crontab(tmp_path / "bin", home / "crontab.txt")
    assert isinstance(local_installer("auto", home), Crontab)
    assert isinstance(local_installer("systemd", home), SystemdTimers)
    assert isinstance(local_installer("print", home), Instructions)
    assert [store.via for store in local_schedule_stores(home)] == ["crontab", "systemd"]


def test_printed_lines_are_the_crontab_entry(checkout: Path) -> None:
    report = Instructions().install(job(checkout))
    assert report.lines[0] == "# llm-twin schedule continuous-training"
    assert report.lines[1].startswith("0 3 * * * cd ")


def test_names_that_cannot_be_markers_or_unit_names_are_refused(checkout: Path) -> None:
    with pytest.raises(SchedulingError, match="a-z, 0-9"):
        job(checkout, name="Nightly Training")
