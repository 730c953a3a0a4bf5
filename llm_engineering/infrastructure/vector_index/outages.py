"""Telling a Qdrant server that cannot be reached from a request it refused, and saying what to do."""

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ApiException, ResponseHandlingException, UnexpectedResponse

from llm_engineering.domain.exceptions import FeatureStoreUnavailableError

UNAVAILABLE_GRPC = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def is_outage(error: ApiException | httpx.TransportError | grpc.RpcError) -> bool:
    """Whether `error` says the server is down, unreachable, too slow or failing (5xx), not that a request
    was wrong (4xx) or that an answer did not parse."""
    if isinstance(error, ResponseHandlingException):  # the REST client wraps what httpx raised
        return isinstance(error.source, httpx.TransportError)
    if isinstance(error, UnexpectedResponse):
        return error.status_code is not None and error.status_code >= 500
    if isinstance(error, grpc.Call):
        return error.code() in UNAVAILABLE_GRPC
    return isinstance(error, httpx.TransportError)


def qdrant_location(client: QdrantClient) -> str:
    """Where the client points (its URL, host or folder), never its API key."""
    options = client.init_options
    return str(options.get("url") or options.get("host") or options.get("location") or options.get("path"))


@contextmanager
def reaching_qdrant(client: QdrantClient, action: str) -> Iterator[None]:
    """Raise FeatureStoreUnavailableError for an outage met while doing `action`; other errors go on as
    they are, since retrying later would not help them."""
    try:
        yield
    except (ApiException, httpx.TransportError, grpc.RpcError) as error:
        if not is_outage(error):
            raise
        cause = error.source if isinstance(error, ResponseHandlingException) else error
        reason = " ".join(str(cause).split())[:200]
        raise FeatureStoreUnavailableError(
            f"Qdrant at {qdrant_location(client)} did not answer while {action} ({type(cause).__name__}: "
            f"{reason}); check that it runs (`poe local-infrastructure-up`), fix QDRANT_URL, or unset "
            "QDRANT_URL to use the embedded feature store."
        ) from error
