"""The remote path's stand-ins, started once for the tools tests that use them (support/aws_standin.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.aws_standin import moto_server, zenml_server
from tests.support.zenml_store import isolated_zenml


@dataclass(frozen=True)
class RemoteStandins:
    aws_endpoint: str
    zenml_url: str


@pytest.fixture(scope="session")
def remote_standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteStandins]:
    """moto's AWS server and a ZenML server that uses it, for the whole session."""
    with moto_server() as endpoint, zenml_server(tmp_path_factory.mktemp("zenml-server"), endpoint) as url:
        yield RemoteStandins(endpoint, url)


@contextmanager
def client_of(url: str, root: Path) -> Iterator[None]:
    """A ZenML client configuration of its own under `root`, connected to the server at `url`."""
    from zenml.config.global_config import GlobalConfiguration
    from zenml.zen_stores.rest_zen_store import RestZenStoreConfiguration

    with isolated_zenml(root):
        GlobalConfiguration().set_store(RestZenStoreConfiguration(url=url))
        yield
