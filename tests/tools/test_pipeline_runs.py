"""A run whose process was killed is marked failed by the next pipeline command; a live one's run is not."""

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from loguru import logger
from zenml.client import Client
from zenml.enums import ExecutionStatus

from tests.support.zenml_store import isolated_zenml
from tools.pipeline_runs import is_gone, this_process
from tools.run import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """What the commands warn about, one message per item."""
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(message.record["message"]), level="WARNING")
    yield messages
    logger.remove(sink)


@pytest.fixture
def silent_server() -> Iterator[tuple[str, threading.Event]]:
    """A URL on 127.0.0.1 that accepts connections and never answers, and an event set once one arrives."""
    connected = threading.Event()
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:  # closed
                return
            connected.set()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/never", connected
    server.close()
    for connection in held:
        connection.close()


def start_stalled_crawl(url: str, folder: Path) -> subprocess.Popen:
    """`digital-data-etl` in a process of its own, crawling a link that never answers."""
    config = folder / "etl.yaml"
    config.write_text(
        f"parameters:\n  user_full_name: Iris Calder\n  links: [{url}]\n"
        "  crawl: {http_timeout_s: 600, http_retries: 0}\n"
    )
    with (folder / "etl.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tools.run", "digital-data-etl", "--config", str(config)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def start_next_pipeline(folder: Path) -> None:
    """A pipeline command that fails at its first step, after the check every pipeline command makes."""
    config = folder / "features.yaml"
    config.write_text("parameters:\n  author_full_names: [Nobody Here]\n")
    result = CliRunner().invoke(cli, ["feature-engineering", "--config", str(config)])
    assert result.exit_code == 1 and "No author named 'Nobody Here'" in result.output, result.output


def test_a_killed_runs_process_is_noticed_by_the_next_command_and_a_live_one_is_not(
    data_dir: Path, tmp_path: Path, silent_server: tuple[str, threading.Event], warnings: list[str]
) -> None:
    url, connected = silent_server
    with isolated_zenml(tmp_path):
        Client().active_stack_model  # noqa: B018 - the store exists before two processes use it
        crawl = start_stalled_crawl(url, tmp_path)
        try:
            assert connected.wait(START_TIMEOUT_S), (tmp_path / "etl.log").read_text()
            [stalled] = Client().list_pipeline_runs(pipeline_name="digital_data_etl").items

            start_next_pipeline(tmp_path)  # while the crawl's process lives
            assert Client().get_pipeline_run(stalled.id).status == ExecutionStatus.RUNNING
            assert warnings == []

            os.kill(crawl.pid, signal.SIGKILL)
            crawl.wait(timeout=30)
            start_next_pipeline(tmp_path)
        finally:
            if crawl.poll() is None:
                crawl.kill()
        run = Client().get_pipeline_run(stalled.id)
        assert warnings == [
            f"Run {stalled.name} of pipeline digital_data_etl was interrupted (process gone); "
            "marking it failed"
        ]
        assert run.status == ExecutionStatus.FAILED
        assert run.steps["crawl_links"].status == ExecutionStatus.FAILED

        start_next_pipeline(tmp_path)
        assert len(warnings) == 1  # told once


def test_a_process_is_gone_once_it_ended_or_its_pid_was_reused() -> None:
    me = this_process()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()

    assert not is_gone(me)
    assert is_gone({**me, "pid": ended.pid})
    assert is_gone({**me, "started": me["started"] - 60})
