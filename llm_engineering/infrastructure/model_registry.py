"""The model registry on ZenML's model control plane: the one module of the package that imports zenml.

A promotion to production records on the promoted version who did it, when, why, and which version held
production before (`previous_production`); a rollback follows that record one step back. ZenML is imported
inside the methods, so building the registry costs nothing until it is used.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.registry import TWIN_MODEL_NAME, Key, ModelVersion, Stage

if TYPE_CHECKING:
    from zenml.models import ModelVersionResponse


def _version(response: "ModelVersionResponse") -> ModelVersion:
    return ModelVersion(
        number=response.number,
        name=str(response.name),
        stage=response.stage,
        created=response.created,
        metadata=dict(response.run_metadata),
    )


# The local folder of an uploaded model folder (its URI), fetched there when it is not there yet.
ModelFetcher = Callable[[str], Path]


class ZenMLModelRegistry:
    """A `ModelRegistry` over the active ZenML store: versions of `model_name` and their stages.

    A version trained where its folder does not exist here (a SageMaker job) is fetched from its uploaded
    copy by `fetch` when its folder is asked for.
    """

    def __init__(self, model_name: str = TWIN_MODEL_NAME, fetch: ModelFetcher | None = None) -> None:
        self.model_name = model_name
        self.fetch = fetch

    def _response(self, version: "str | int") -> "ModelVersionResponse":
        from zenml.client import Client

        # Digits mean a number, as `models list` shows it; ZenML names versions by their number by default.
        key: str | int = int(version) if isinstance(version, int) or version.isdigit() else version
        try:
            return Client().get_model_version(self.model_name, key)
        except KeyError as error:
            raise RegistryError(
                f"{self.model_name} has no version {version!r}; `poe models-list` shows them."
            ) from error

    def get(self, version: str | int) -> ModelVersion:
        return _version(self._response(version))

    def latest(self) -> ModelVersion:
        from zenml.client import Client
        from zenml.enums import ModelStages

        try:
            return _version(Client().get_model_version(self.model_name, ModelStages.LATEST))
        except KeyError as error:
            raise RegistryError(
                f"{self.model_name} has no version yet; run the training pipeline first."
            ) from error

    def production(self) -> ModelVersion | None:
        from zenml.client import Client

        try:
            return _version(Client().get_model_version(self.model_name, Stage.PRODUCTION.value))
        except KeyError:
            return None  # none promoted yet: the port's documented answer, not a failure

    def list_versions(self) -> list[ModelVersion]:
        from zenml.client import Client
        from zenml.utils.pagination_utils import depaginate

        versions = depaginate(
            Client().list_model_versions, model=self.model_name, sort_by="desc:number", hydrate=True
        )
        return [_version(version) for version in versions]

    def log_metadata(self, version: str | int, values: Mapping[str, Any]) -> None:
        from zenml import log_metadata

        log_metadata(
            metadata={str(key): value for key, value in values.items()},
            model_version_id=self._response(version).id,
        )

    def _record(self, response: "ModelVersionResponse", values: Mapping[str, Any]) -> None:
        """Log `values` with the ZenML user and the UTC time of the change."""
        from zenml.client import Client

        stamp = {Key.PROMOTED_BY: Client().active_user.name, Key.PROMOTED_AT: datetime.now(UTC).isoformat()}
        self.log_metadata(response.number, {**stamp, **values})

    def promote(self, version: str | int, stage: Stage, reason: str) -> ModelVersion:
        if stage not in set(Stage):
            raise RegistryError(f"Cannot promote to {stage!r}; choose one of {', '.join(Stage)}.")
        stage = Stage(stage)
        target = self._response(version)
        values: dict[str, Any] = {Key.PROMOTED_TO: stage.value, Key.PROMOTION_REASON: reason}
        current = self.production() if stage is Stage.PRODUCTION else None
        if current is not None and current.number != target.number:
            values[Key.PREVIOUS_PRODUCTION] = current.number
        target.set_stage(stage.value, force=True)  # ZenML archives the version that held the stage
        self._record(target, values)
        logger.info(f"{self.model_name} version {target.number} ({target.name}) is now in {stage}: {reason}")
        return self.get(target.number)

    def rollback(self, reason: str) -> ModelVersion:
        current = self.production()
        if current is None:
            raise RegistryError(
                f"No version of {self.model_name} is in production, so there is nothing to roll back."
            )
        previous = current.metadata.get(Key.PREVIOUS_PRODUCTION)
        if previous is None:
            raise RegistryError(
                f"Version {current.number} of {self.model_name} has no recorded previous production "
                "version; promote the version you want with `poe promote-model VERSION --stage production`."
            )
        target = self._response(str(previous))
        target.set_stage(Stage.PRODUCTION.value, force=True)
        # The target keeps its own `previous_production`, so a second rollback steps further back.
        self._record(
            target,
            {
                Key.PROMOTED_TO: Stage.PRODUCTION.value,
                Key.PROMOTION_REASON: reason,
                Key.ROLLED_BACK_FROM: current.number,
            },
        )
        logger.info(f"{self.model_name} rolled back from version {current.number} to {target.number}")
        return self.get(target.number)

    def model_dir(self, version: str | int) -> Path:
        found = self.get(version)  # read afresh: metadata may have been logged since
        if found.model_dir is None:
            raise RegistryError(
                f"{found.label} has no logged {Key.MODEL_DIR}; run the training pipeline, which logs it."
            )
        if found.model_dir.is_dir() or found.model_uri is None:
            return found.model_dir
        if self.fetch is None:
            raise RegistryError(f"{found.label} is at {found.model_uri}, and this registry cannot fetch it.")
        return self.fetch(found.model_uri)
