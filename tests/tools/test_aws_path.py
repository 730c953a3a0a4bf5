"""The README's "Running on AWS", command by command, against local stand-ins of the protocols.

A ZenML server in its own process (remote to this client, as a deployed one is) and moto's AWS server on
127.0.0.1 (tests/support/aws_standin.py). The commands run as users run them, through the CLI; boto3, the
`sagemaker` SDK and s3fs reach moto through AWS_ENDPOINT_URL. moto records what it is asked and runs no
container, so the tests check what reached SageMaker, not what a job would compute.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from zenml import pipeline, step
from zenml.client import Client

from llm_engineering.infrastructure.container import get_settings
from tests.support.aws_standin import BUCKET, REGION, REPO, REPOSITORY, ROLE, aws_environment
from tests.support.zenml_store import isolated_zenml
from tests.tools.conftest import RemoteStandins, client_of
from tools.run import full_cli

IMAGE = f"{REPOSITORY}:latest"
CONFIGS = REPO / "configs"  # the commands run in a folder of their own


def invoke(*args: str) -> Result:
    get_settings.cache_clear()  # the commands read the environment as the test left it
    return CliRunner().invoke(full_cli(), list(args))


def run(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def aws(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def standins(
    remote_standins: RemoteStandins, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteStandins]:
    """The settings a user puts in .env for AWS (keys from boto's chain: moto's dummy ones), the bucket and
    the image repository made, and this module's own ZenML client of the stand-in server."""
    work = tmp_path_factory.mktemp("aws-path")
    with aws_environment(remote_standins.aws_endpoint), pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)  # no .env of the developer's
        for name, value in {
            "AWS_REGION": REGION,
            "AWS_ARN_ROLE": ROLE,
            "AWS_S3_BUCKET": BUCKET,
            "AWS_ECR_REPOSITORY": REPOSITORY,
            "DATA_DIR": str(work / "data"),
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_RUN_MODE", "DATABASE_HOST"):
            patch.delenv(name, raising=False)
        s3 = aws("s3")
        if BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        aws("ecr").create_repository(repositoryName="llm-twin")
        with client_of(remote_standins.zenml_url, work / "zenml"):
            run("export-settings-to-zenml")  # what the remote steps and runs read
            yield remote_standins
    get_settings.cache_clear()


@pytest.fixture
def aws_stack(standins: RemoteStandins, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stack registered and active in the mode the test set (orchestrator unless AWS_RUN_MODE says)."""
    run("stack", "register-aws")
    run("stack", "set-aws")
    yield
    run("stack", "set-local")


def push_image() -> None:
    """What the CD workflow's push leaves in ECR: the tag, with a manifest."""
    ecr = aws("ecr")
    if ecr.list_images(repositoryName="llm-twin")["imageIds"]:
        return
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName="llm-twin", imageManifest=json.dumps(manifest), imageTag="latest")


def save_datasets() -> None:
    """Dataset artifacts as the dataset pipelines leave them, written through the stack's S3 store."""
    from datasets import Dataset, DatasetDict
    from zenml import save_artifact

    rows = {"instruction": ["What do you write about?"], "output": ["Rivers, mostly."]}
    pairs = {"prompt": ["Why rivers?"], "chosen": ["They move."], "rejected": ["No reason."]}
    for name, columns in (("instruct_datasets", rows), ("preference_datasets", pairs)):
        save_artifact(
            DatasetDict({"train": Dataset.from_dict(columns), "test": Dataset.from_dict(columns)}), name
        )


def pipeline_definition(prefix: str) -> dict[str, Any]:
    """The definition SageMaker holds for the newest pipeline whose name starts with `prefix`."""
    sagemaker = aws("sagemaker")
    names = [
        summary["PipelineName"]
        for summary in sagemaker.list_pipelines()["PipelineSummaries"]
        if summary["PipelineName"].startswith(prefix)
    ]
    assert names, "no pipeline reached SageMaker"
    described = sagemaker.describe_pipeline(PipelineName=names[-1])
    assert described["RoleArn"] == ROLE
    return json.loads(described["PipelineDefinition"])


def test_connect_status_and_disconnect(remote_standins: RemoteStandins, tmp_path: Path) -> None:
    with isolated_zenml(tmp_path / "zenml"):
        assert "a local store" in run("zenml-server", "status")

        output = run("zenml-server", "connect", "--url", remote_standins.zenml_url + "/")

        assert f"Connected to the ZenML server at {remote_standins.zenml_url} (ZenML 0.98.0" in output
        assert "is a loopback address: commands here reach it, SageMaker jobs cannot" in output
        assert not Client().zen_store.is_local_store()
        assert "a remote ZenML server" in run("zenml-server", "status")
        assert "local ZenML store again" in run("zenml-server", "disconnect")
        assert Client().zen_store.is_local_store()


def test_connecting_to_nothing_says_what_to_check(tmp_path: Path) -> None:
    from tests.support.aws_standin import free_port

    with isolated_zenml(tmp_path / "zenml"):
        result = invoke("zenml-server", "connect", "--url", f"http://127.0.0.1:{free_port()}")

        assert result.exit_code == 1
        assert "No ZenML server answers at http://127.0.0.1:" in result.output
        assert "poe zenml-server-up" in result.output
        assert Client().zen_store.is_local_store()


def test_a_run_stops_before_submitting_when_the_image_is_not_pushed(
    aws_stack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_image()  # `latest` is there; the settings name a tag that is not
    monkeypatch.setenv("AWS_IMAGE_TAG", "never-pushed")
    run("export-settings-to-zenml")  # a run reads the exported settings, not .env
    before = aws("sagemaker").list_pipelines()["PipelineSummaries"]

    result = invoke("digital-data-etl", "--config", str(CONFIGS / "digital_data_etl_iris_calder.yaml"))

    monkeypatch.delenv("AWS_IMAGE_TAG")
    run("export-settings-to-zenml")
    assert result.exit_code != 0
    message = str(result.exception) + result.output
    missing = f"{REPOSITORY}:never-pushed"
    assert f"{missing} is not in ECR (ImageNotFoundException)" in message
    assert f"docker push {missing}" in message
    assert aws("sagemaker").list_pipelines()["PipelineSummaries"] == before


def test_the_training_pipeline_reaches_sagemaker_in_the_pushed_image(
    aws_stack: None, standins: RemoteStandins, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_image()
    save_datasets()
    # Keys in the settings, as a user without a role sets them (moto takes any); none may reach SageMaker.
    monkeypatch.setenv("AWS_ACCESS_KEY", "AKIATWINEXAMPLEKEY01")
    monkeypatch.setenv("AWS_SECRET_KEY", "twin-example-secret-that-must-stay-put")
    run("export-settings-to-zenml")
    run("stack", "register-aws")

    run("training", "--config", str(CONFIGS / "training.yaml"))

    for name in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY"):
        monkeypatch.delenv(name)
    run("export-settings-to-zenml")
    run("stack", "register-aws")
    definition = pipeline_definition("training")
    assert "AKIATWINEXAMPLEKEY01" not in json.dumps(definition)
    assert "twin-example-secret-that-must-stay-put" not in json.dumps(definition)
    steps = {step["Name"]: step for step in definition["Steps"]}
    assert "train_model" in steps
    arguments = steps["train_model"]["Arguments"]
    # The step runs as a training or processing job, depending on ZenML's choice for the step.
    resources = arguments.get("ResourceConfig") or arguments["ProcessingResources"]["ClusterConfig"]
    assert resources["InstanceType"] == "ml.g5.2xlarge"  # configs/training.yaml's per-step setting
    assert resources.get("VolumeSizeInGB") == 50
    image = (arguments.get("AlgorithmSpecification") or arguments["AppSpecification"]).get(
        "TrainingImage"
    ) or (arguments.get("AppSpecification", {}).get("ImageUri"))
    assert image == IMAGE
    # The step reaches the ZenML server, and gets the exported settings from it when it starts (ZenML sets
    # the stack's secret as its environment then), so no setting or key sits in SageMaker's definition.
    environment = arguments.get("Environment") or {}
    assert environment["ZENML_STORE_URL"] == standins.zenml_url
    assert not {"aws_region", "aws_arn_role", "AWS_REGION"} & set(environment)
    run_model = Client().list_pipeline_runs(sort_by="desc:created", size=1).items[0]
    assert run_model.pipeline.name == "training"
    assert run_model.stack.name == "aws-stack"
    # The steps run the image's code: nothing of this checkout was uploaded for them to run instead.
    assert run_model.snapshot is not None
    assert run_model.snapshot.code_path is None
    assert run_model.snapshot.code_reference is None


def test_a_snapshot_on_the_aws_stack_runs_in_the_pushed_image(
    aws_stack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_image()
    save_datasets()
    monkeypatch.setattr("tools.snapshots.CONFIGS", CONFIGS)  # the command reads configs/ of the checkout

    output = run("snapshots", "create", "training")

    assert "Snapshot 'training' of pipeline 'training'" in output
    snapshot = Client().get_snapshot("training")
    assert snapshot.runnable  # from ZenML Pro or the dashboard, with no build behind it
    assert snapshot.build is not None
    image = snapshot.build.images["orchestrator"]
    assert (image.image, image.contains_code, image.requires_code_download) == (IMAGE, True, False)
    assert snapshot.code_path is None


def test_a_schedule_goes_to_eventbridge_and_delete_removes_it_there(aws_stack: None) -> None:
    push_image()
    save_datasets()

    output = run(
        "schedules", "create", "training", "--cron", "0 4 * * 0", "--config", str(CONFIGS / "training.yaml")
    )

    assert "Created the ZenML schedule 'training'" in output
    scheduler = aws("scheduler")
    (summary,) = scheduler.list_schedules()["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"])
    assert schedule["ScheduleExpression"] == "cron(0 4 ? * SUN *)"  # EventBridge's dialect
    assert schedule["Target"]["RoleArn"] == ROLE
    assert schedule["Target"]["Arn"].endswith(f":pipeline/{summary['Name']}")

    output = run("schedules", "delete", "training")

    assert f"scheduler: deleted {summary['Name']}" in output
    assert f"sagemaker: deleted {summary['Name']}" in output
    assert scheduler.list_schedules()["Schedules"] == []
    assert not Client().list_schedules(name="training").total


@pytest.fixture
def step_operator_mode(standins: RemoteStandins, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_RUN_MODE", "step_operator")
    run("stack", "register-aws")
    run("stack", "set-aws")
    yield
    run("stack", "set-local")
    monkeypatch.setenv("AWS_RUN_MODE", "orchestrator")
    run("stack", "register-aws")


def test_step_operator_mode_trains_on_a_sagemaker_training_job(step_operator_mode: None) -> None:
    push_image()
    save_datasets()
    sagemaker = aws("sagemaker")
    before = {job["TrainingJobName"] for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]}
    pipelines_before = {item["PipelineName"] for item in sagemaker.list_pipelines()["PipelineSummaries"]}

    run("training", "--config", str(CONFIGS / "training.yaml"))

    new = [
        job["TrainingJobName"]
        for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]
        if job["TrainingJobName"] not in before
    ]
    assert len(new) == 1, new
    job = sagemaker.describe_training_job(TrainingJobName=new[0])
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"
    assert job["ResourceConfig"]["VolumeSizeInGB"] == 50
    assert job["RoleArn"] == ROLE
    # Only the training step left this machine: no SageMaker pipeline was made for this run.
    pipelines_after = {item["PipelineName"] for item in sagemaker.list_pipelines()["PipelineSummaries"]}
    assert pipelines_after == pipelines_before


@step
def passages() -> dict[str, list[str]]:
    return {"rivers": ["They move.", "They carry silt."]}


@pipeline(enable_cache=False)
def small() -> None:
    passages()


def test_artifacts_of_a_run_here_go_to_s3_and_come_back(step_operator_mode: None) -> None:
    run_model = small()

    artifact = run_model.steps["passages"].outputs["output"][0]
    assert artifact.uri.startswith(f"s3://{BUCKET}/")
    key = artifact.uri.removeprefix(f"s3://{BUCKET}/")
    stored = aws("s3").list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]
    assert stored, "nothing written under the artifact's S3 prefix"
    assert artifact.load() == {"rivers": ["They move.", "They carry silt."]}


def model_folder(root: Path) -> Path:
    """The files TGI needs, as the training pipeline's merged model has them (tiny here)."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (root / "tokenizer.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"\0" * 64)
    return root


@dataclass(frozen=True)
class RemotelyTrained:
    number: int
    uri: str
    trained: Path


@pytest.fixture
def production_trained_on_sagemaker(aws_stack: None, tmp_path: Path) -> RemotelyTrained:
    """A production version as a training step on SageMaker leaves it: its folder on the job's disk (gone),
    the copy the step uploaded at its end to the stack's S3 artifact store."""
    from llm_engineering.domain.registry import Key, Stage
    from llm_engineering.infrastructure.container.models import get_model_registry
    from steps.training.train import uploaded_copy
    from tests.support.zenml_store import add_twin_version

    run_name = f"run-on-sagemaker-{tmp_path.name}"
    trained = model_folder(tmp_path / "opt-ml" / run_name / "merged")
    uri = uploaded_copy(trained, run_name)
    assert uri is not None
    number = add_twin_version(**{Key.MODEL_DIR: f"/opt/ml/gone/{run_name}/merged", Key.MODEL_URI: uri})
    get_model_registry().promote(number, Stage.PRODUCTION, "trained on SageMaker")
    return RemotelyTrained(number, uri, trained)


def test_a_model_trained_on_sagemaker_is_uploaded_and_fetched_where_it_is_used(
    production_trained_on_sagemaker: RemotelyTrained,
) -> None:
    from llm_engineering.infrastructure.container.models import get_model_registry

    remote = production_trained_on_sagemaker
    assert remote.uri.startswith(f"s3://{BUCKET}/models/twin/run-on-sagemaker-")

    local = get_model_registry().model_dir(remote.number)

    run_name = remote.uri.rsplit("/", 1)[1]
    assert local == Path(get_settings().data_dir).resolve() / "models" / "twin" / run_name
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        assert (local / name).read_bytes() == (remote.trained / name).read_bytes()


def test_a_refresh_continues_from_a_production_model_trained_on_sagemaker(
    production_trained_on_sagemaker: RemotelyTrained,
) -> None:
    from llm_engineering.domain.registry import Key
    from llm_engineering.domain.training import TrainingConfig
    from llm_engineering.infrastructure.container.models import get_model_registry
    from steps.training.train import with_local_base

    logged = get_model_registry().get(production_trained_on_sagemaker.number).metadata[Key.MODEL_DIR]
    config = TrainingConfig(base_model_dir=Path(logged))  # what the refresh plan names: production's folder

    base = with_local_base(config).base_model_dir

    assert base is not None and base.is_dir()
    assert (base / "model.safetensors").read_bytes() == (
        production_trained_on_sagemaker.trained / "model.safetensors"
    ).read_bytes()


def test_the_production_model_is_deployed_autoscaled_and_deleted(
    production_trained_on_sagemaker: RemotelyTrained,
) -> None:
    sagemaker, scaling = aws("sagemaker"), aws("application-autoscaling")

    # The production version's model, fetched from S3. moto's list of endpoint instance types predates the
    # g5 family of the default (ml.g5.xlarge).
    output = run("deploy", "create", "--instance-type", "ml.g4dn.xlarge")

    assert "Endpoint llm-twin created with llm-twin-" in output
    endpoint = sagemaker.describe_endpoint(EndpointName="llm-twin")
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    archive = model["PrimaryContainer"]["ModelDataUrl"]
    assert archive.startswith(f"s3://{BUCKET}/") and archive.endswith("/model.tar.gz")
    assert aws("s3").head_object(Bucket=BUCKET, Key=archive.removeprefix(f"s3://{BUCKET}/"))["ContentLength"]

    run("deploy", "autoscale", "--min", "1", "--max", "3", "--target", "40")

    resource = f"endpoint/llm-twin/variant/{config['ProductionVariants'][0]['VariantName']}"
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (resource, 1, 3)
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 40

    run("deploy", "autoscale", "--off")
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []

    output = run("deploy", "delete")

    assert "Deleted endpoint llm-twin" in output
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
