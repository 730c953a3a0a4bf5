"""The feature store behind the `VectorIndex` port.

`EdgeVectorIndex` runs Qdrant's engine in-process on a folder (the embedded default: no server, millisecond
filtered search); `ClientVectorIndex` speaks qdrant-client to a Qdrant server or Qdrant Cloud. Both keep
cosine collections with keyword indexes on the fields retrieval filters on.
"""

import math

from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ApiException

from llm_engineering.application.ports import VectorIndex
from llm_engineering.domain.exceptions import FeatureStoreUnavailableError
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.vector_index.client import ClientVectorIndex
from llm_engineering.infrastructure.vector_index.edge import EdgeVectorIndex

__all__ = ["ClientVectorIndex", "EdgeVectorIndex", "open_vector_index"]


def open_vector_index(settings: Settings) -> VectorIndex:
    """The Qdrant server at `QDRANT_URL` when set (checked to answer), else the embedded store on disk."""
    if not settings.qdrant_url:
        return EdgeVectorIndex(settings.feature_store_dir)
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    # The client's own version probe runs in a background thread and only warns, even when the server is
    # down; the call below checks the server in the foreground and fails with what to do.
    client = QdrantClient(
        url=settings.qdrant_url,
        api_key=api_key,
        timeout=math.ceil(settings.qdrant_timeout_s),
        check_compatibility=False,
    )
    try:
        client.get_collections()
    except ApiException as error:  # refused, unresolvable, timed out, or an error status such as 401
        client.close()
        raise FeatureStoreUnavailableError(
            f"Qdrant at {settings.qdrant_url} cannot be used ({error}); start it with "
            "`poe local-infrastructure-up`, fix QDRANT_URL, or unset QDRANT_URL to use the embedded "
            "feature store."
        ) from error
    return ClientVectorIndex(client)
