"""What a local schedule runs, what was found installed, and what an installer reports back."""

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from llm_engineering.domain.cron import Cron
from llm_engineering.domain.exceptions import TwinError

MARKER = "# llm-twin schedule "
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class SchedulingError(TwinError):
    """A schedule could not be installed, read or removed."""


@dataclass(frozen=True)
class LocalJob:
    """A command of the checkout (`argv`, relative to it) run on a cron expression, appending to a log."""

    name: str
    cron: Cron
    checkout: Path
    argv: tuple[str, ...]
    log: Path

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise SchedulingError(f"A schedule name takes a-z, 0-9 and '-', not {self.name!r}.")

    def shell_line(self) -> str:
        """`cd CHECKOUT && COMMAND >> LOG 2>&1`, every path quoted for the shell."""
        command = " ".join(shlex.quote(part) for part in self.argv)
        return f"cd {shlex.quote(str(self.checkout))} && {command} >> {shlex.quote(str(self.log))} 2>&1"


@dataclass(frozen=True)
class Installed:
    """A schedule found on this machine: its name, cron expression and where it lives."""

    name: str
    cron: str
    via: str
    where: str


@dataclass(frozen=True)
class Report:
    """What an installer did: the exact lines written, commands left to the user, and how to undo it."""

    summary: str
    lines: list[str]
    to_do: list[str] = field(default_factory=list)
    undo: str = ""


def run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """A helper program's result, its output captured; callers judge the exit status."""
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
