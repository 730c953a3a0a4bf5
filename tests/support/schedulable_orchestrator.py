"""A stand-in for a schedulable orchestrator (SageMaker, Kubernetes): records schedules, runs nothing."""

from typing import Any, ClassVar

from zenml.orchestrators import BaseOrchestrator, BaseOrchestratorConfig, BaseOrchestratorFlavor

FLAVOR = "schedule-stand-in"


class StandInOrchestratorConfig(BaseOrchestratorConfig):
    @property
    def is_schedulable(self) -> bool:
        return True


class StandInOrchestrator(BaseOrchestrator):
    """Keeps (schedule name, cron expression) for each scheduled submission, and the names it deleted."""

    scheduled: ClassVar[list[tuple[str, str | None]]] = []
    deleted: ClassVar[list[str]] = []

    def get_orchestrator_run_id(self) -> str:
        return "stand-in"

    def submit_pipeline(self, snapshot: Any, stack: Any, *args: Any, **kwargs: Any) -> None:
        if snapshot.schedule is None:
            raise RuntimeError("The stand-in only takes schedules.")
        StandInOrchestrator.scheduled.append((snapshot.schedule.name, snapshot.schedule.cron_expression))

    def delete_schedule(self, schedule: Any) -> None:
        StandInOrchestrator.deleted.append(schedule.name)


class StandInOrchestratorFlavor(BaseOrchestratorFlavor):
    @property
    def name(self) -> str:
        return FLAVOR

    @property
    def config_class(self) -> type[StandInOrchestratorConfig]:
        return StandInOrchestratorConfig

    @property
    def implementation_class(self) -> type[StandInOrchestrator]:
        return StandInOrchestrator
