"""Model folders to and from S3, over moto's server on 127.0.0.1 (tests/support/aws_standin.py)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.model_store import download_folder, upload_folder
from tests.support.aws_standin import REGION, aws_environment, moto_server

BUCKET = "twin-models"


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with moto_server() as endpoint, aws_environment(endpoint):
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def model_folder(root: Path) -> Path:
    (root / "nested").mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "llama"}')
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    (root / "nested" / "tokenizer.json").write_text("{}")
    return root


def test_a_folder_goes_up_and_comes_back_whole(s3: Any, tmp_path: Path) -> None:
    source = model_folder(tmp_path / "trained")
    uri = f"s3://{BUCKET}/models/twin/run-1"

    assert upload_folder(s3, source, uri) == 3
    s3.put_object(Bucket=BUCKET, Key="models/twin/run-1/nested/", Body=b"")  # as the S3 console makes folders
    target = tmp_path / "here" / "run-1"
    assert download_folder(s3, uri + "/", target) == 3

    for name in ("config.json", "model.safetensors", "nested/tokenizer.json"):
        assert (target / name).read_bytes() == (source / name).read_bytes()
    assert not (tmp_path / "here" / ".run-1.partial").exists()


def test_a_prefix_is_not_mistaken_for_a_longer_one(s3: Any, tmp_path: Path) -> None:
    upload_folder(s3, model_folder(tmp_path / "a"), f"s3://{BUCKET}/models/twin/run-2")
    upload_folder(s3, model_folder(tmp_path / "b"), f"s3://{BUCKET}/models/twin/run-20")
    (tmp_path / "b" / "only-in-20.txt").write_text("x")
    upload_folder(s3, tmp_path / "b", f"s3://{BUCKET}/models/twin/run-20")

    download_folder(s3, f"s3://{BUCKET}/models/twin/run-2", tmp_path / "got")

    assert not (tmp_path / "got" / "only-in-20.txt").exists()


def test_empty_or_missing_folders_are_refused_with_the_reason(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TwinError, match="holds no file to upload"):
        upload_folder(s3, tmp_path / "empty", f"s3://{BUCKET}/models/twin/none")
    with pytest.raises(TwinError, match="did not finish its upload"):
        download_folder(s3, f"s3://{BUCKET}/models/twin/never", tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(TwinError, match="NoSuchBucket"):
        download_folder(s3, "s3://no-such-bucket/models/x", tmp_path / "x")
    with pytest.raises(TwinError, match="not an S3 folder address"):
        download_folder(s3, "/local/folder", tmp_path / "y")


def test_a_local_artifact_store_keeps_the_model_where_training_wrote_it(tmp_path: Path) -> None:
    from llm_engineering.infrastructure.container.models import keep_trained_model

    folder = model_folder(tmp_path / "trained")

    assert keep_trained_model(folder, "run-1", str(tmp_path / "zenml" / "artifacts")) is None
