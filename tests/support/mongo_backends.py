"""Warehouse backends for the repository tests: embedded always, MongoDB wire servers when available.

- `embedded`: litemongo on disk, the default of `connect_database`.
- `mongoeco`: a MongoDB wire-protocol server (mongoeco on SQLite) in a Python 3.13 venv,
  reached through pymongo exactly like a real server.
- `mongodb`: a real MongoDB at TEST_MONGODB_URI (an `integration` test).

Import the fixtures into a test module; a summary at the end of the run says which backends ran.
"""

import os
import select
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from uuid import uuid4

import pytest
from pymongo.database import Database

from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import connect_database
from llm_engineering.infrastructure.warehouse.documents import MongoWarehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = Path(__file__).with_name("mongoeco_server.py")
MONGOECO_MISSING = (
    "mongoeco server not installed: run "
    "`python3.13 -m venv .venv-mongoeco && .venv-mongoeco/bin/pip install mongoeco`"
)
MONGODB_MISSING = "TEST_MONGODB_URI is not set: point it at a MongoDB server to run these tests against it"
SERVER_START_TIMEOUT_S = 30.0
BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("mongoeco", id="mongoeco"),
    pytest.param("mongodb", id="mongodb", marks=pytest.mark.integration),
]


def mongoeco_python() -> Path:
    """The interpreter that runs the mongoeco server: MONGOECO_PYTHON, else the repo's .venv-mongoeco."""
    return Path(os.environ.get("MONGOECO_PYTHON") or REPO_ROOT / ".venv-mongoeco" / "bin" / "python")


def start_mongoeco_server(python: Path, stderr: IO[str]) -> tuple[subprocess.Popen, str]:
    """Start the server script and read the URI it announces; fails with its stderr if it does not."""
    process = subprocess.Popen(
        [str(python), str(SERVER_SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], SERVER_START_TIMEOUT_S)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("mongodb://"):
        stop_mongoeco_server(process)
        stderr.seek(0)
        raise RuntimeError(f"The mongoeco server at {python} did not start:\n{stderr.read()}")
    return process, line


def stop_mongoeco_server(process: subprocess.Popen) -> None:
    """Close the server's stdin so it stops by itself; terminate it if it does not."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def mongoeco_uri() -> Iterator[str]:
    """The URI of a mongoeco wire server shared by the session; skips when it is not installed."""
    python = mongoeco_python()
    if not python.exists():
        pytest.skip(MONGOECO_MISSING)
    with tempfile.NamedTemporaryFile("w+", prefix="mongoeco-", suffix=".log") as stderr:
        process, uri = start_mongoeco_server(python, stderr)
        try:
            yield uri
        finally:
            stop_mongoeco_server(process)


class BackendReport:
    """Counts the tests that ran on each backend and why a backend did not run, shown after the run."""

    name = "warehouse-backend-report"

    def __init__(self) -> None:
        self.ran: Counter[str] = Counter()
        self.not_run: dict[str, str] = {}

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.section("warehouse backends")
        for backend in (param.values[0] for param in BACKENDS):
            if self.ran[backend]:
                terminalreporter.line(f"{backend}: ran {self.ran[backend]} tests")
            else:
                terminalreporter.line(f"{backend}: did not run ({self.not_run.get(backend, 'not selected')})")


def backend_report(config: pytest.Config) -> BackendReport:
    """The session's report, registered as a plugin on first use so it prints its summary."""
    report = config.pluginmanager.get_plugin(BackendReport.name)
    if report is None:
        report = BackendReport()
        config.pluginmanager.register(report, BackendReport.name)
    return report


def backend_settings(backend: str, request: pytest.FixtureRequest, data_dir: Path) -> Settings:
    """Settings that make `connect_database` reach `backend`, each test in a fresh database."""
    if backend == "embedded":
        return Settings(data_dir=data_dir, database_host=None)
    if backend == "mongoeco":
        uri = request.getfixturevalue("mongoeco_uri")
    else:
        uri = os.environ.get("TEST_MONGODB_URI") or pytest.skip(MONGODB_MISSING)
    return Settings(data_dir=data_dir, database_host=uri, database_name=f"twin_test_{uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
def warehouse_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty warehouse database on each available backend, connected through `connect_database`."""
    backend: str = request.param
    report = backend_report(request.config)
    try:
        settings = backend_settings(backend, request, tmp_path / "data")
    except pytest.skip.Exception as skipped:
        report.not_run[backend] = f"skipped: {skipped.msg}"
        raise
    except Exception as error:
        report.not_run[backend] = f"failed: {str(error).splitlines()[0]}"
        raise
    database = connect_database(settings)
    report.ran[backend] += 1
    try:
        yield database
    finally:
        if backend != "embedded":
            database.client.drop_database(database.name)
        database.client.close()


@pytest.fixture
def warehouse(warehouse_database: Database) -> MongoWarehouse:
    """The repository under test, on the parametrized backend."""
    return MongoWarehouse(warehouse_database)
