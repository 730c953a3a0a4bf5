from pathlib import Path
from typing import Annotated, Any

from datasets import DatasetDict
from loguru import logger
from zenml import get_step_context, log_metadata, step
from zenml.client import Client
from zenml.enums import StackComponentType, StepRuntime
from zenml.types import HTMLString

from llm_engineering.domain.feedback import FeedbackPreference, pair_feedback
from llm_engineering.domain.registry import Key
from llm_engineering.domain.training import TrainingConfig, TrainingResult
from llm_engineering.infrastructure.container import get_feedback_store, get_settings, prepare_local_engine
from llm_engineering.infrastructure.container.models import get_model_registry, keep_trained_model
from llm_engineering.infrastructure.hf_datasets import with_feedback
from llm_engineering.infrastructure.llm import default_model_dir
from llm_engineering.infrastructure.plots import html_page, loss_curve_png
from llm_engineering.infrastructure.training.tracking import experiment_trackers
from llm_engineering.infrastructure.training.trl_training import train


def feedback_pairs(config: TrainingConfig) -> tuple[list[FeedbackPreference], dict[str, Any]]:
    """The users' feedback in the warehouse as the DPO pairs `config.feedback` accepts, and the report (counts
    dropped by reason, trace ids kept) logged on the run and on the model version it creates."""
    if not (config.use_feedback and "dpo" in config.stages):
        return [], {"kept": 0, "reason": "use_feedback is off or the run has no dpo stage."}
    pairs, report = pair_feedback(get_feedback_store().rated_answers(), config.feedback)
    logger.info("Feedback: {} pairs kept; dropped by reason: {}", report.kept, report.dropped)
    if report.reason:
        logger.warning(report.reason)
    return pairs, report.model_dump(mode="json")


def datasets_trained_on(recorded: dict[str, str] | None) -> dict[str, str]:
    """The dataset artifact versions this training stands for, by artifact name: `recorded` when given (a
    refresh trains on its new samples but stands for the merged datasets), else the step's own inputs."""
    if recorded is not None:
        return recorded
    inputs = get_step_context().inputs
    return {
        inputs[name][0].artifact.name: str(inputs[name][0].id)
        for name in ("instruct_datasets", "preference_datasets")
        if inputs.get(name)
    }


def training_step_operator() -> str | None:
    """The active stack's step operator, where the training step runs when the stack has one (the AWS stack
    with AWS_RUN_MODE=step_operator: the rest of the pipeline runs here); None runs it with the others."""
    operators = Client().active_stack_model.components.get(StackComponentType.STEP_OPERATOR) or []
    return operators[0].name if operators else None


def training_runtime() -> StepRuntime | None:
    """In a dynamic pipeline, the training step's own job where the orchestrator gives steps one (SageMaker),
    rather than the orchestration job, so that it gets the instance its settings name; None elsewhere (the
    local orchestrator runs every step in its process)."""
    return StepRuntime.ISOLATED if Client().active_stack.orchestrator.can_run_isolated_steps else None


def uploaded_copy(model_dir: Path, run_name: str) -> str | None:
    """The model folder kept beside the run's artifacts when they are remote (its address), since the disk of
    a SageMaker job goes with the job; None when the folder stays here."""
    return keep_trained_model(model_dir, run_name, str(Client().active_stack.artifact_store.path))


def with_local_base(config: TrainingConfig) -> TrainingConfig:
    """The config with its base model here: a refresh continues from production, whose folder may exist only
    as the uploaded copy of a version trained on SageMaker; the registry fetches it."""
    base = config.base_model_dir
    if base is None or base.is_dir():
        return config
    registry = get_model_registry()
    for version in registry.list_versions():
        if version.model_dir == base and version.model_uri:
            return config.model_copy(update={"base_model_dir": registry.model_dir(version.number)})
    return config


@step
def train_model(
    config: TrainingConfig,
    instruct_datasets: DatasetDict,
    preference_datasets: DatasetDict,
    datasets: dict[str, str] | None = None,
) -> tuple[Annotated[TrainingResult, "training_result"], Annotated[HTMLString, "loss_curve"]]:
    """Fine-tune the twin (SFT, then DPO when asked) and record where the merged model went and which
    datasets (`datasets`: artifact name → version id; default: the inputs) it learned from."""
    settings = get_settings()
    run_name = get_step_context().pipeline_run.name
    config = with_local_base(config)
    feedback, feedback_report = feedback_pairs(config)
    result = train(
        config,
        instruct_datasets,
        with_feedback(preference_datasets, feedback) if "dpo" in config.stages else None,
        settings.data_dir.resolve() / "models" / "twin" / run_name,
        default_base_dir=default_model_dir(settings),
        report_to=experiment_trackers(settings),
    )
    engine_dir = prepare_local_engine(Path(result.model_dir))
    uri = uploaded_copy(Path(result.model_dir), run_name)
    metadata = {
        Key.MODEL_DIR: result.model_dir,
        **({Key.MODEL_URI: uri} if uri else {}),
        **({Key.ENGINE_DIR: str(engine_dir)} if engine_dir else {}),
        Key.FEEDBACK_PAIRS: feedback_report,
        Key.DATASETS: datasets_trained_on(datasets),
        Key.METHOD: config.method,
        Key.SYSTEM_PROMPT: config.system_prompt,
        Key.STAGES: {stage: summary.model_dump() for stage, summary in result.stages.items()},
    }
    log_metadata(metadata=metadata)
    log_metadata(metadata=metadata, infer_model=True)  # on the model version this run creates
    history = [point.model_dump() for point in result.loss_history]
    table = [
        {"stage": stage, **summary.model_dump(exclude={"metrics"})}
        for stage, summary in result.stages.items()
    ]
    return result, HTMLString(html_page("Training loss", [loss_curve_png(history)], table))
