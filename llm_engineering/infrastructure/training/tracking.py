"""Where training runs report their curves besides ZenML: Comet ML when its key is set."""

import importlib.util
import os

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.settings import Settings


def experiment_trackers(settings: Settings) -> list[str]:
    """The `report_to` integrations of the transformers trainer, configured from the settings.

    With COMET_API_KEY set, Comet ML gets every logged loss, learning rate and eval metric; its callback
    reads the key, project and workspace from the environment, so they are exported here.
    """
    if settings.comet_api_key is None:
        return []
    if importlib.util.find_spec("comet_ml") is None:
        raise TwinError(
            "COMET_API_KEY is set but comet-ml is not installed: `pip install comet-ml`, or unset the key."
        )
    os.environ["COMET_API_KEY"] = settings.comet_api_key.get_secret_value()
    os.environ["COMET_PROJECT_NAME"] = settings.comet_project
    if settings.comet_workspace:
        os.environ["COMET_WORKSPACE"] = settings.comet_workspace
    return ["comet_ml"]
