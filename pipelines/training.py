from zenml import Model, pipeline
from zenml.client import Client

from llm_engineering.domain.registry import TWIN_MODEL_NAME, Artifact
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.container import get_hub_publisher
from steps.training import push_model_to_huggingface, train_model, training_step_operator


@pipeline(model=Model(name=TWIN_MODEL_NAME, description="The author's writing twin.", tags=["llm-twin"]))
def training(
    config: TrainingConfig = TrainingConfig(),  # noqa: B008 - frozen default
    push_to_huggingface_hub: bool = False,
    model_id: str = "llm-twin",
) -> None:
    """Fine-tune the twin on the latest datasets; each run is a new version of the model in the registry.

    Steps: train_model (SFT → DPO; on the stack's step operator when it has one), reading the latest
    instruct_datasets and preference_datasets artifacts
    → push_model_to_huggingface (when asked: the merged model and its card, as `model_id`). A push that
    could not happen (no token, offline mode) stops the run here, before any training.
    """
    if push_to_huggingface_hub:
        get_hub_publisher().check(model_id)
    client = Client()
    result, _ = train_model.with_options(step_operator=training_step_operator())(
        config=config,
        instruct_datasets=client.get_artifact_version(Artifact.INSTRUCT_DATASETS),
        preference_datasets=client.get_artifact_version(Artifact.PREFERENCE_DATASETS),
    )
    if push_to_huggingface_hub:
        push_model_to_huggingface(training_result=result, config=config, model_id=model_id)
