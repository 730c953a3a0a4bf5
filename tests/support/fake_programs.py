"""Stand-ins for `crontab` and `systemctl`: executables on a PATH of their own, run for real."""

import stat
import sys
from pathlib import Path

CRONTAB = """\
import sys
from pathlib import Path

table = Path({table!r})
if sys.argv[1:] == ["-l"]:
    if not table.exists():
        sys.exit("no crontab for tester")
    sys.stdout.write(table.read_text())
elif sys.argv[1:] == ["-"]:
    table.write_text(sys.stdin.read())
else:
    sys.exit(f"usage: crontab -l | crontab -, not {{sys.argv[1:]}}")
"""

# Answers `--user …` only while the file `manager` exists (a user manager on the bus), as systemctl does.
SYSTEMCTL = """\
import sys
from pathlib import Path

with Path({calls!r}).open("a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
if not Path({manager!r}).exists():
    sys.exit("Failed to connect to bus: No medium found")
"""


def write_program(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!{sys.executable}\n{source}", encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def fake_crontab(folder: Path, table: Path) -> Path:
    """A `crontab` keeping the user's table in `table` (`-l` prints it, `-` replaces it)."""
    return write_program(folder, "crontab", CRONTAB.format(table=str(table)))


def fake_systemctl(folder: Path, calls: Path, manager: Path) -> Path:
    """A `systemctl` appending its arguments to `calls`; it reaches a user manager while `manager` exists."""
    return write_program(folder, "systemctl", SYSTEMCTL.format(calls=str(calls), manager=str(manager)))
