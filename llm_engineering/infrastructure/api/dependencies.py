"""What routes depend on: the service built by the lifespan, and the API key check."""

import secrets
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field, SecretStr

from llm_engineering.infrastructure.api.errors import ApiError
from llm_engineering.infrastructure.api.service import TwinService


class ServiceLimits(BaseModel):
    api_key: SecretStr | None = Field(None, description="Required as a Bearer token or X-API-Key when set.")
    max_body_bytes: int = Field(64 * 1024, gt=0, description="Largest request body; larger gets 413.")


def _service(request: Request) -> TwinService:
    return request.app.state.service  # type: ignore[no-any-return]


def _given_key(request: Request) -> str:
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""  # the scheme is case-insensitive (RFC 7235)


def authorized(request: Request) -> None:
    """Passes when no key is configured or the request carries it; otherwise 401 with WWW-Authenticate."""
    limits: ServiceLimits = request.app.state.limits
    if limits.api_key is None:
        return
    if not secrets.compare_digest(_given_key(request).encode(), limits.api_key.get_secret_value().encode()):
        raise ApiError(
            401,
            "Missing or wrong API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="llm-twin"'},
        )


Twin = Annotated[TwinService, Depends(_service)]
GUARDED = [Depends(authorized)]
