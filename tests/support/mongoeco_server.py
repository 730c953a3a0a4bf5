"""Serve a MongoDB wire-protocol server backed by mongoeco's SQLite engine, for tests.

Run it with a Python 3.13 interpreter that has mongoeco installed:

    python3.13 -m venv .venv-mongoeco && .venv-mongoeco/bin/pip install mongoeco
    .venv-mongoeco/bin/python tests/support/mongoeco_server.py [--path FILE]

It listens on a free port of 127.0.0.1, writes its mongodb:// URI as one line on stdout,
and serves until its stdin closes or it receives SIGTERM/SIGINT. Tying its life to stdin
means the server ends with the test session even when that session is killed.
"""

import argparse
import asyncio
import signal
import sys
import threading


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set `stop` once stdin reaches end of file; blocks, so it runs in a daemon thread."""
    sys.stdin.read()
    loop.call_soon_threadsafe(stop.set)


async def serve(path: str) -> None:
    """Start the server, announce its URI, and serve until told to stop."""
    # Imported here so that this file can be read by tools on interpreters without mongoeco.
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    engine = SQLiteEngine(path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncMongoEcoProxyServer(engine=engine, host="127.0.0.1", port=0) as server:
        sys.stdout.write(server.address.uri + "\n")
        sys.stdout.flush()
        # A daemon thread, not the loop's executor: a thread blocked on stdin must not
        # keep the process alive after SIGTERM.
        threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=":memory:", help="SQLite file; in memory by default.")
    asyncio.run(serve(parser.parse_args().path))


if __name__ == "__main__":
    main()
