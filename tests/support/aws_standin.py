"""Local stand-ins for the remote path: moto's AWS server and a ZenML server, both on 127.0.0.1.

boto3, the `sagemaker` SDK and s3fs all honour AWS_ENDPOINT_URL, so with `aws_environment` set every AWS
call of the code under test (and of ZenML's AWS integration) goes to moto's server over HTTP: S3, ECR,
SageMaker (pipelines, training jobs, models, endpoints), Application Auto Scaling and EventBridge Scheduler.
moto records the requests and answers them; it runs no container, so a submitted job never executes.

The ZenML server runs in its own process with a ZenML configuration of its own, so it has an identity other
than the test client's and ZenML treats it as remote, as it would a server on another host.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/twin-sagemaker"
BUCKET = "twin-artifacts"
REPOSITORY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/llm-twin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def aws_variables(endpoint: str) -> dict[str, str]:
    """Dummy keys, the region, and every AWS SDK pointed at `endpoint`; no profile or config file is read."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in a thread of this process; its address."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def aws_environment(endpoint: str) -> Iterator[None]:
    """The AWS variables set for the block, without the developer's own profile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_PROFILE", raising=False)
        for name, value in aws_variables(endpoint).items():
            patch.setenv(name, value)
        yield


@contextmanager
def zenml_server(home: Path, aws_endpoint: str) -> Iterator[str]:
    """A ZenML server (the same FastAPI app the server image runs) with a SQLite store under `home`, without
    login; its address. It reaches AWS through `aws_endpoint`, as a deployed one reaches AWS."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        **aws_variables(aws_endpoint),
        "ZENML_SERVER": "true",
        "ZENML_CONFIG_PATH": str(home / "config"),
        "ZENML_STORE_URL": f"sqlite:///{home / 'zenml.db'}",
        "ZENML_SERVER_AUTH_SCHEME": "NO_AUTH",
        "ZENML_SERVER_DEPLOYMENT_TYPE": "docker",
        "ZENML_SERVER_AUTO_ACTIVATE": "True",
        "ZENML_ANALYTICS_OPT_IN": "false",
        "ZENML_CUSTOM_SOURCE_ROOT": str(REPO),
    }
    command = [sys.executable, "-m", "uvicorn", "zenml.zen_server.zen_server_api:app"]
    with (home / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"The ZenML server exited: {(home / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/api/v1/info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"The ZenML server did not answer: {(home / 'server.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
