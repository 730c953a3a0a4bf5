from zenml import Model, pipeline
from zenml.client import Client

from llm_engineering.domain.training import TWIN_MODEL_NAME, TrainingConfig
from steps.training import train_model


@pipeline(model=Model(name=TWIN_MODEL_NAME, description="The author's writing twin.", tags=["llm-twin"]))
def training(config: TrainingConfig = TrainingConfig()) -> None:  # noqa: B008 - frozen default
    """Fine-tune the twin on the latest datasets; each run is a new version of the model in the registry.

    Steps: train_model (SFT → DPO), reading the latest instruct_datasets and preference_datasets artifacts.
    """
    client = Client()
    train_model(
        config=config,
        instruct_datasets=client.get_artifact_version("instruct_datasets"),
        preference_datasets=client.get_artifact_version("preference_datasets"),
    )
