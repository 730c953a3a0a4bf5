"""Schedules on the local stack, which ZenML cannot schedule: a user crontab line or a systemd user timer.

Each entry carries a marker comment naming its schedule (`# llm-twin schedule NAME`), so listing and deleting
find what was installed here and never touch the user's own entries. Nothing needs root: the crontab is the
user's (`crontab -l`, `crontab -`), the units live in ~/.config/systemd/user. Both run the same shell line,
`cd CHECKOUT && COMMAND >> LOG 2>&1`, so the checkout's `.env` and `.venv` apply as they do by hand.
"""

import os
import shutil
from pathlib import Path

from llm_engineering.infrastructure.scheduling.crontab import Crontab, Instructions
from llm_engineering.infrastructure.scheduling.jobs import Installed, LocalJob, Report, SchedulingError
from llm_engineering.infrastructure.scheduling.systemd import SystemdTimers

INSTALLERS = ("auto", "cron", "systemd", "print")


def unit_dir(home: Path) -> Path:
    """Where systemd looks for the user's own units."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config) / "systemd" / "user"


def local_installer(via: str, home: Path) -> Crontab | SystemdTimers | Instructions:
    """The installer `via` names; `auto` prefers the crontab, then systemd timers, then printed lines."""
    crontab, systemctl = shutil.which("crontab"), shutil.which("systemctl")
    if via == "auto":
        via = "cron" if crontab else "systemd" if systemctl else "print"
    match via:
        case "cron":
            if crontab is None:
                raise SchedulingError(
                    "No `crontab` program here; install cron, or use --via systemd or print."
                )
            return Crontab(crontab)
        case "systemd":
            return SystemdTimers(unit_dir(home), systemctl)
        case "print":
            return Instructions()
    raise SchedulingError(f"Unknown installer {via!r}; choose one of {', '.join(INSTALLERS)}.")


def local_schedule_stores(home: Path) -> list[Crontab | SystemdTimers]:
    """Everywhere a local schedule may be: the crontab (when `crontab` exists) and the systemd unit folder."""
    crontab = shutil.which("crontab")
    timers = SystemdTimers(unit_dir(home), shutil.which("systemctl"))
    return [Crontab(crontab), timers] if crontab else [timers]


__all__ = [
    "INSTALLERS",
    "Crontab",
    "Installed",
    "Instructions",
    "LocalJob",
    "Report",
    "SchedulingError",
    "SystemdTimers",
    "local_installer",
    "local_schedule_stores",
]
