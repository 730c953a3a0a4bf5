"""How the CLI starts pipeline runs, and how it notices runs whose process was killed.

With the local orchestrator a run lives in the CLI's process: killed (SIGKILL, the out-of-memory killer, a
reboot), it stays "running" in ZenML forever. So each local run records which process runs it, and the
next pipeline command marks the runs of processes that are gone as failed. Runs of a remote orchestrator go
on without the CLI and are never touched, nor are runs whose process is still alive.
"""

import logging
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psutil
from loguru import logger
from zenml.client import Client
from zenml.enums import ExecutionMode, ExecutionStatus, StackComponentType
from zenml.models import PipelineRunResponse, PipelineRunUpdate, StepRunUpdate
from zenml.utils.pagination_utils import depaginate
from zenml.utils.time_utils import utc_now

from llm_engineering.domain.exceptions import TwinError
from tools.stack import TWIN_STEP_OPERATOR_FLAVOR

# ZenML's SageMaker orchestrator and step operator, and the project's repaired step operator
# (`tools.flavors`).
SAGEMAKER_FLAVORS = frozenset({"sagemaker", TWIN_STEP_OPERATOR_FLAVOR})

# The key of a run's `extra` configuration that names the process running it (see `this_process`).
OWNER_KEY = "llm_twin_process"
LOCAL_FLAVOR = "local"


def this_process() -> dict[str, Any]:
    """The running process: host, pid and the pid's start time, since an ended process's pid is reused."""
    process = psutil.Process()
    return {"host": socket.gethostname(), "pid": process.pid, "started": process.create_time()}


def is_gone(owner: Mapping[str, Any]) -> bool:
    """Whether the process `this_process()` described on this host has ended."""
    try:
        started = psutil.Process(int(owner["pid"])).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # another user's process: it exists
        return False
    return abs(started - float(owner["started"])) > 0.01


def run_options(client: Client) -> dict[str, Any]:
    """Options of a run started now on the active stack.

    With the local orchestrator the run records its process, and fails fast, so that the error a step raised
    reaches the command line as it is instead of ZenML's "Pipeline run has failed" (which the other
    execution mode raises) and the pipeline stops at its first failed step. When steps run on SageMaker (its
    orchestrator or step operator), the run is checked first and runs in the pushed image (`tools.aws`).
    """
    components = client.active_stack_model.components
    options = remote_options(client) if runs_on_sagemaker(components) else {}
    if orchestrator_flavor(components) == LOCAL_FLAVOR:
        options |= {"extra": {OWNER_KEY: this_process()}, "execution_mode": ExecutionMode.FAIL_FAST}
    return options


def remote_options(client: Client) -> dict[str, Any]:
    from tools.aws import remote_run_options

    return remote_run_options(client)


def runs_on_sagemaker(components: Mapping[StackComponentType, list[Any]]) -> bool:
    """Whether the stack's orchestrator or one of its step operators is a SageMaker flavor."""
    kinds = (StackComponentType.ORCHESTRATOR, StackComponentType.STEP_OPERATOR)
    return any(
        component.flavor_name in SAGEMAKER_FLAVORS
        for kind in kinds
        for component in components.get(kind) or []
    )


class DropTwinErrorTracebacks(logging.Filter):
    """Drops the traceback the local orchestrator logs for a step that raised a TwinError.

    ZenML has already logged the error's message in one line, and the command line reports it once more.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], TwinError))


@contextmanager
def quiet_step_errors() -> Iterator[None]:
    """While a local run goes, a step's TwinError is shown as its message only."""
    orchestrator_logger = logging.getLogger("zenml.orchestrators.local.local_orchestrator")
    drop = DropTwinErrorTracebacks()
    orchestrator_logger.addFilter(drop)
    try:
        yield
    finally:
        orchestrator_logger.removeFilter(drop)


def orchestrator_flavor(components: Mapping[StackComponentType, list[Any]]) -> str | None:
    orchestrators = components.get(StackComponentType.ORCHESTRATOR) or []
    return orchestrators[0].flavor_name if orchestrators else None


def fail_interrupted_runs(client: Client) -> list[PipelineRunResponse]:
    """Mark failed, with a warning, every unfinished local run of this host whose process is gone."""
    interrupted = []
    for run in depaginate(client.list_pipeline_runs, in_progress=True, hydrate=True):
        owner = run.config.extra.get(OWNER_KEY)
        if run.status.is_finished or not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
            continue
        if not run.stack or orchestrator_flavor(run.stack.components) != LOCAL_FLAVOR or not is_gone(owner):
            continue
        pipeline = run.pipeline.name if run.pipeline else "?"
        logger.warning(
            "Run {} of pipeline {} was interrupted (process gone); marking it failed", run.name, pipeline
        )
        mark_failed(client, run, f"Interrupted: process {owner['pid']} on {owner['host']} is gone.")
        interrupted.append(run)
    return interrupted


def mark_failed(client: Client, run: PipelineRunResponse, reason: str) -> None:
    """Fail the run's unfinished steps, then the run itself."""
    for step in run.steps.values():
        if not step.status.is_finished:
            client.zen_store.update_run_step(
                step.id, StepRunUpdate(status=ExecutionStatus.FAILED, end_time=utc_now())
            )
    client.zen_store.update_run(
        run.id, PipelineRunUpdate(status=ExecutionStatus.FAILED, status_reason=reason)
    )
