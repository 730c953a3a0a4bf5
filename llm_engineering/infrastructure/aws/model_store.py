"""Model folders in S3: a version trained on SageMaker is uploaded beside the stack's artifacts, and fetched
into the local data folder wherever it is evaluated, served or deployed.

A SageMaker job's disk goes with the job, so the folder a remote training run wrote would otherwise exist
nowhere once the run ends.
"""

import shutil
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.aws.errors import aws_errors

S3_SCHEME = "s3://"
HINT = "Check that the bucket exists in AWS_REGION and that the credentials (or the job's role) may use it."


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> (`bucket`, `a/b`), refusing anything else.

    >>> split_s3_uri("s3://twin/models/twin/run-1/")
    ('twin', 'models/twin/run-1')
    """
    if not uri.startswith(S3_SCHEME) or "/" not in uri.removeprefix(S3_SCHEME).strip("/"):
        raise TwinError(f"{uri!r} is not an S3 folder address (s3://BUCKET/PREFIX).")
    bucket, prefix = uri.removeprefix(S3_SCHEME).split("/", 1)
    return bucket, prefix.strip("/")


def upload_folder(s3: Any, folder: Path, uri: str) -> int:
    """Upload every file under `folder` to the S3 folder `uri`, keeping relative paths; the count."""
    bucket, prefix = split_s3_uri(uri)
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        raise TwinError(f"{folder} holds no file to upload.")
    with aws_errors(f"Uploading {folder} to {uri}", HINT):
        for path in files:
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
    logger.info(f"Uploaded {len(files)} files of {folder} to {uri}")
    return len(files)


def download_folder(s3: Any, uri: str, folder: Path) -> int:
    """Download the S3 folder `uri` into `folder` (written whole into a sibling, then renamed into place,
    so an interrupted download never looks complete); the count of files."""
    bucket, prefix = split_s3_uri(uri)
    partial = folder.with_name(f".{folder.name}.partial")
    if partial.exists():  # what an interrupted download left
        shutil.rmtree(partial)
    count = 0
    with aws_errors(f"Downloading {uri}", HINT):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):  # a "folder" the S3 console made: no file to write
                    continue
                target = partial / item["Key"].removeprefix(f"{prefix}/")
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(target))
                count += 1
    if not count:
        raise TwinError(f"{uri} holds no file; the training run that logged it did not finish its upload.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(folder)
    logger.info(f"Downloaded {count} files of {uri} to {folder}")
    return count
