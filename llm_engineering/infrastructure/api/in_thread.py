"""The service on a free 127.0.0.1 port of this process, for one question from the CLI or for tests."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from llm_engineering.domain.exceptions import TwinError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn from a daemon thread until the block ends; yields its base URL once the
    lifespan has built everything (models included)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="twin-service", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise TwinError("The service stopped while starting; its log above says why.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
