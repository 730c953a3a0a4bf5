"""systemd user timers as a place for schedules: a oneshot service running the job and a timer starting it."""

from pathlib import Path

from llm_engineering.domain.cron import to_on_calendar
from llm_engineering.infrastructure.scheduling.jobs import (
    MARKER,
    Installed,
    LocalJob,
    Report,
    SchedulingError,
    run,
)

UNIT_PREFIX = "llm-twin-"


def systemd_quoted(text: str) -> str:
    """One ExecStart argument: double-quoted, with systemd's escapes for `\\`, `"`, `$` and `%`.

    >>> print(systemd_quoted("cd '/home/a b' && echo $HOME 100%"))
    "cd '/home/a b' && echo $$HOME 100%%"
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'"{escaped}"'


def unit_texts(job: LocalJob, on_calendar: str) -> tuple[str, str]:
    """The service that runs the job's shell line once, and the timer that starts it."""
    header = f"{MARKER}{job.name}: {job.cron.expression}\n"
    service = (
        f"{header}[Unit]\nDescription=LLM Twin: {job.name} (cron {job.cron.expression})\n\n"
        f"[Service]\nType=oneshot\nExecStart=/bin/sh -c {systemd_quoted(job.shell_line())}\n"
    )
    # Persistent: a run missed while the machine was off or asleep starts once it is back.
    timer = (
        f"{header}[Unit]\nDescription=Start {UNIT_PREFIX}{job.name}.service at {on_calendar}\n\n"
        f"[Timer]\nOnCalendar={on_calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
    )
    return service, timer


class SystemdTimers:
    """systemd user units `llm-twin-NAME.service` and `llm-twin-NAME.timer` in the user's unit folder."""

    via = "systemd"

    def __init__(self, unit_dir: Path, systemctl: str | None) -> None:
        self.unit_dir, self.systemctl = unit_dir, systemctl

    def usable(self) -> bool:
        """Whether this shell reaches a systemd user manager (it does not in containers or over `su`)."""
        return (
            self.systemctl is not None and run([self.systemctl, "--user", "show-environment"]).returncode == 0
        )

    def units(self, name: str) -> tuple[Path, Path]:
        return self.unit_dir / f"{UNIT_PREFIX}{name}.service", self.unit_dir / f"{UNIT_PREFIX}{name}.timer"

    def run_systemctl(self, *commands: str) -> None:
        """`systemctl --user COMMAND` for each command, in order; the first failure stops them."""
        for command in commands:
            result = run([str(self.systemctl), "--user", *command.split()])
            if result.returncode != 0:
                raise SchedulingError(f"`systemctl --user {command}` failed: {result.stderr.strip()}.")

    def install(self, job: LocalJob) -> Report:
        texts = unit_texts(job, to_on_calendar(job.cron))  # refuses what a timer cannot express, first
        paths = self.units(job.name)
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, texts, strict=True):
            path.write_text(text, encoding="utf-8")
        timer = paths[1].name
        commands = ("daemon-reload", f"enable --now {timer}")
        to_do = [] if self.usable() else [f"systemctl --user {command}" for command in commands]
        if not to_do:
            self.run_systemctl(*commands)
        enabled = f", and enabled {timer} (`systemctl --user list-timers` shows it)"
        left = "; no systemd user manager answers here, so enable the timer with the commands below"
        return Report(
            f"Wrote {paths[0]} and {paths[1]}{left if to_do else enabled}:",
            [f"{path}:\n{text}" for path, text in zip(paths, texts, strict=True)],
            to_do,
            f"`poe schedules-delete {job.name}`, or `systemctl --user disable --now {timer}`, delete both "
            "files and `systemctl --user daemon-reload`",
        )

    def installed(self) -> list[Installed]:
        found = []
        for timer in sorted(self.unit_dir.glob(f"{UNIT_PREFIX}*.timer")):
            header = timer.read_text(encoding="utf-8").partition("\n")[0]
            name, _, cron = header.removeprefix(MARKER).partition(": ")
            if header.startswith(MARKER) and cron:
                found.append(Installed(name, cron, self.via, str(timer)))
        return found

    def remove(self, name: str) -> Report | None:
        service, timer = self.units(name)
        if not timer.exists():
            return None
        usable = self.usable()
        if usable:
            self.run_systemctl(f"disable --now {timer.name}")
        # `enable` links the timer into timers.target.wants; without systemctl that link is ours to remove.
        wanted = self.unit_dir / "timers.target.wants" / timer.name
        removed = [path for path in (service, timer, wanted) if path.exists() or path.is_symlink()]
        for path in removed:
            path.unlink()
        if usable:
            self.run_systemctl("daemon-reload")
        # A user manager this shell cannot reach may still hold the timer: stopping it there is left to do.
        to_do = [] if usable else [f"systemctl --user stop {timer.name}", "systemctl --user daemon-reload"]
        return Report(f"Removed {name}'s systemd units:", [str(path) for path in removed], to_do)
