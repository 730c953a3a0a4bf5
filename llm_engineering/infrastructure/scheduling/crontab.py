"""The user's crontab as a place for schedules, and the lines to add by hand where it cannot be written."""

from itertools import pairwise

from llm_engineering.infrastructure.scheduling.jobs import (
    MARKER,
    Installed,
    LocalJob,
    Report,
    SchedulingError,
    run,
)


def crontab_block(job: LocalJob) -> list[str]:
    """The marker line and the entry; `%` would end the command (the rest becoming its stdin), so escaped."""
    return [f"{MARKER}{job.name}", f"{job.cron.expression} {job.shell_line().replace('%', chr(92) + '%')}"]


def split(lines: list[str], name: str) -> tuple[list[str], list[str]]:
    """The table without `name`'s marker line and the entry after it, and those lines."""
    kept: list[str] = []
    removed: list[str] = []
    follows_marker = False
    for line in lines:
        if line == f"{MARKER}{name}" or follows_marker:
            removed.append(line)
            follows_marker = line == f"{MARKER}{name}"
        else:
            kept.append(line)
    return kept, removed


class Crontab:
    """The user's crontab, read and written whole through the `crontab` program."""

    via = "crontab"

    def __init__(self, program: str) -> None:
        self.program = program

    def read(self) -> list[str]:
        result = run([self.program, "-l"])
        if result.returncode == 0:
            return result.stdout.splitlines()
        if "no crontab" in result.stderr.lower():
            return []
        raise SchedulingError(f"`crontab -l` failed: {result.stderr.strip() or result.returncode}.")

    def write(self, lines: list[str]) -> None:
        # cron ignores a last line without its newline.
        result = run([self.program, "-"], stdin="".join(f"{line}\n" for line in lines))
        if result.returncode != 0:
            raise SchedulingError(f"`crontab -` refused the new table: {result.stderr.strip()}.")

    def installed(self) -> list[Installed]:
        return [
            Installed(line.removeprefix(MARKER), " ".join(entry.split()[:5]), self.via, "crontab -l")
            for line, entry in pairwise([*self.read(), ""])
            if line.startswith(MARKER) and entry
        ]

    def install(self, job: LocalJob) -> Report:
        kept, replaced = split(self.read(), job.name)
        block = crontab_block(job)
        self.write([*kept, *block])
        return Report(
            f"{'Replaced' if replaced else 'Installed'} in your crontab (`crontab -l` shows it):",
            block,
            undo=f"`poe schedules-delete {job.name}`, or `crontab -e` and delete those two lines",
        )

    def remove(self, name: str) -> Report | None:
        kept, removed = split(self.read(), name)
        if not removed:
            return None
        self.write(kept)
        return Report(f"Removed {name} from your crontab:", removed)


class Instructions:
    """Where neither cron nor systemd is here: the crontab lines to add wherever the job should run."""

    via = "print"

    def install(self, job: LocalJob) -> Report:
        return Report(
            "Nothing installed (no `crontab` or `systemctl` here, or --via print); add these lines with "
            "`crontab -e` where the twin should run:",
            crontab_block(job),
            undo="delete those two lines with `crontab -e`",
        )
