"""A small HTTP server on 127.0.0.1 for crawler tests: fixed pages plus slow, flaky and huge ones.

    with LocalServer({"/post": (200, "text/html", "<h1>Hi</h1>")}) as server:
        fetch(server.url("/post"))
        assert server.requests["/post"] == 1

A route is a `Route` or a `(status, content_type, body)` tuple. Every method is answered alike
(GET and POST). Per path, the server keeps request counts in `requests`, POST bodies in `posts`,
the last request's headers in `headers` and the bytes it wrote in `bytes_sent`.
"""

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

CHUNK = 64 * 1024


@dataclass
class Route:
    """How one path answers."""

    body: str | bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering, to trip client timeouts
    fail_first: int = 0  # answer 503 to this many requests first, then normally
    filler_bytes: int = 0  # stream this many bytes after `body`, for huge pages
    send_length: bool = True  # False streams without Content-Length (until the connection closes)


RouteSpec = Route | tuple[int, str, str | bytes]


def as_route(spec: RouteSpec) -> Route:
    if isinstance(spec, Route):
        return spec
    status, content_type, body = spec
    return Route(body=body, status=status, content_type=content_type)


class ThreadedServer:
    """A threaded HTTP server on a free port of 127.0.0.1, serving while in a `with` block; the stand-ins
    of this folder build on it with their own request handler."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True  # a handler still sleeping must not hold up shutdown
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class LocalServer(ThreadedServer):
    """Serves scripted routes; use it as a context manager."""

    def __init__(self, routes: Mapping[str, RouteSpec] | None = None) -> None:
        self.routes: dict[str, Route] = {path: as_route(spec) for path, spec in (routes or {}).items()}
        self.requests: Counter[str] = Counter()
        self.posts: defaultdict[str, list[bytes]] = defaultdict(list)
        self.bytes_sent: Counter[str] = Counter()
        self.headers: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    def __setitem__(self, path: str, spec: RouteSpec) -> None:
        self.routes[path] = as_route(spec)

    @property
    def base_url(self) -> str:
        return self.origin

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _record(self, path: str, headers: dict[str, str], body: bytes | None) -> int:
        """Count a request and keep its headers and body; return how many requests the path has had."""
        with self._lock:
            self.requests[path] += 1
            self.headers[path] = headers
            if body is not None:
                self.posts[path].append(body)
            return self.requests[path]


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(self.rfile.read(length))

        def _answer(self, body: bytes | None) -> None:
            path = urlsplit(self.path).path
            count = server._record(path, dict(self.headers.items()), body)
            route = server.routes.get(path, Route(body="<h1>Not found</h1>", status=404))
            time.sleep(route.delay_s)
            try:
                if count <= route.fail_first:
                    self._send(path, Route(body="<h1>Busy</h1>", status=503))
                else:
                    self._send(path, route)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout or a size limit under test): nothing left to answer

        def _send(self, path: str, route: Route) -> None:
            body = route.body.encode() if isinstance(route.body, str) else route.body
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.send_length:
                self.send_header("Content-Length", str(len(body) + route.filler_bytes))
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self._write(path, body)
            for start in range(0, route.filler_bytes, CHUNK):
                self._write(path, b"x" * min(CHUNK, route.filler_bytes - start))

        def _write(self, path: str, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()
            with server._lock:
                server.bytes_sent[path] += len(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read `requests` instead of the access log."""

    return Handler
