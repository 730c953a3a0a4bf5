"""Telling a MongoDB outage from other driver errors, and saying what to do about it."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo.database import Database
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from llm_engineering.domain.exceptions import WarehouseUnavailableError

# Server error codes that mean "not now" rather than "not this request": a network failure between
# members, a shutdown, a primary stepping down or a member that is not (or no longer) primary.
UNAVAILABLE_CODES = frozenset({6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436})
AUTHENTICATION_FAILED = 18
REASON_CHARS = 200


def is_outage(error: PyMongoError) -> bool:
    """Whether `error` says the server cannot be reached or used now, not that a request was wrong.

    ConnectionFailure is the base of AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError.
    """
    if isinstance(error, ConnectionFailure):
        return True
    return isinstance(error, OperationFailure) and (
        error.code in UNAVAILABLE_CODES
        or error.code == AUTHENTICATION_FAILED
        or error.has_error_label("RetryableWriteError")
    )


def mongo_servers(client: Any) -> str:
    """The host:port of each server the client was given, never its credentials; asks no server."""
    description = getattr(client, "topology_description", None)  # pymongo's; litemongo has no servers
    if description is None:
        return "the embedded warehouse"
    return ",".join(f"{host}:{port}" for host, port in description.server_descriptions()) or "DATABASE_HOST"


def unavailable(error: PyMongoError, servers: str, action: str) -> WarehouseUnavailableError:
    """The error to raise for `error`, naming the servers, what failed and the fixes."""
    if isinstance(error, OperationFailure) and error.code == AUTHENTICATION_FAILED:
        fix = "check the user and password in DATABASE_HOST"
    else:
        fix = "check that it runs (`poe local-infrastructure-up`), fix DATABASE_HOST"
    return WarehouseUnavailableError(
        f"MongoDB at {servers} did not answer while {action} ({type(error).__name__}: {reason(error)}); "
        f"{fix}, or unset DATABASE_HOST to use the embedded warehouse."
    )


def reason(error: PyMongoError) -> str:
    """The driver's message up to its topology dump, with any credentials in a URI masked."""
    text = str(error).split(", Timeout:")[0]
    text = re.sub(r" \(configured timeouts: [^)]*\)", "", text)
    text = re.sub(r"//[^/\s]*@", "//***@", text)  # to the authority's last @: passwords may hold one
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


@contextmanager
def reaching_mongo(database: Database, action: str) -> Iterator[None]:
    """Raise WarehouseUnavailableError for an outage met while doing `action` on `database`; other driver
    errors (a duplicate key, a bad query) go on as they are, since retrying later would not help."""
    try:
        yield
    except PyMongoError as error:
        if not is_outage(error):
            raise
        raise unavailable(error, mongo_servers(database.client), action) from error
