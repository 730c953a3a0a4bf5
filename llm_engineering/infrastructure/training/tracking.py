"""Where training runs report their curves besides ZenML: Comet ML, online with its key or offline to disk."""

import importlib.util
import os
import sys

from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.settings import Settings


def experiment_trackers(settings: Settings) -> list[str]:
    """The `report_to` integrations of the transformers trainer, configured from the settings.

    Comet ML gets every logged loss, learning rate and eval metric and the stage's arguments, one experiment
    per stage: online with COMET_API_KEY set, or, with COMET_START_ONLINE=false, in its offline mode, which
    writes each experiment as a zip under the offline directory when it ends (when the next stage starts, or
    when the process exits). The trainer's callback reads all of it from the environment, so it is exported
    here.
    """
    if settings.comet_start_online and settings.comet_api_key is None:
        return []
    if importlib.util.find_spec("comet_ml") is None:
        raise TwinError(
            "Comet tracking is on (COMET_API_KEY is set or COMET_START_ONLINE=false) but comet-ml is not "
            "installed: `pip install comet-ml` (the `monitoring` extra), or unset them."
        )
    if settings.comet_api_key is not None:
        os.environ["COMET_API_KEY"] = settings.comet_api_key.get_secret_value()
    os.environ["COMET_PROJECT_NAME"] = settings.comet_project
    if settings.comet_workspace:
        os.environ["COMET_WORKSPACE"] = settings.comet_workspace
    os.environ["COMET_START_ONLINE"] = "true" if settings.comet_start_online else "false"
    # One experiment per stage: the trainer's callback would otherwise log DPO into SFT's experiment, whose
    # steps it repeats.
    os.environ["COMET_MODE"] = "create"
    if not settings.comet_start_online:
        directory = settings.comet_offline_directory or settings.data_dir / "comet"
        os.environ["COMET_OFFLINE_DIRECTORY"] = str(directory.resolve())
        # Offline keeps the runs on disk, so comet_ml's own error reports go off too; comet_ml reads this when
        # it is first imported, which the trainer does after this unless something in the process did already.
        os.environ["COMET_ERROR_TRACKING_ENABLE"] = "false"
        if "comet_ml" in sys.modules:
            logger.warning(
                "comet_ml was imported before offline tracking was set up, so its own error reports may be "
                "on; set COMET_ERROR_TRACKING_ENABLE=false in the environment to be sure they are off."
            )
    return ["comet_ml"]
