"""A chat-completions server on 127.0.0.1 whose answers a test scripts, for the HTTP LLM backends.

    def script(body: dict, attempt: int) -> Reply:
        return Reply(status=429, headers={"Retry-After": "1"}) if attempt == 1 else Reply(content="hi")

    with ChatServer(script) as server:
        OpenAICompatibleChatModel(server.base_url, "m", None, options).generate(...)
        assert server.attempts["hello"] == 2

`attempt` counts the requests whose last message had the same content, so retries can be scripted
per conversation. The server records every JSON body it received and the most requests it had in
flight at once.
"""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import ThreadedServer


@dataclass
class Reply:
    """How the server answers one request; `content` None answers with the echo of the last message."""

    status: int = 200
    content: str | None = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] | None = None  # (prompt, completion); None counts words
    top_logprobs: list[tuple[str, float]] | None = None  # (token, logprob) of the first position
    stream_usage: bool = True  # False: a server that ignores `stream_options.include_usage`


Script = Callable[[dict[str, Any], int], Reply]


def echo(body: dict[str, Any], attempt: int) -> Reply:
    return Reply()


class ChatServer(ThreadedServer):
    """A threaded chat-completions server on a free port; use it as a context manager."""

    def __init__(self, script: Script = echo) -> None:
        self.script = script
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.attempts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def begin(self, body: dict[str, Any], headers: dict[str, str]) -> int:
        """Record a request; return its attempt number for its last message."""
        with self._lock:
            self.bodies.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            key = body["messages"][-1]["content"]
            self.attempts[key] += 1
            return self.attempts[key]

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1


def completion_json(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    last = body["messages"][-1]["content"]
    content = f"echo: {last}" if reply.content is None else reply.content
    prompt, completion = reply.usage or (
        sum(len(message["content"].split()) for message in body["messages"]),
        len(content.split()),
    )
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
    }
    if reply.top_logprobs is not None:
        top = [{"token": token, "logprob": logprob} for token, logprob in reply.top_logprobs]
        choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}] if top else []}
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "model": body.get("model", "unknown"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _handler_for(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            attempt = server.begin(body, dict(self.headers.items()))
            self.ended = False
            try:
                reply = server.script(body, attempt)
                time.sleep(reply.delay_s)
                if reply.status == 200 and self.path.endswith("/chat/completions") and body.get("stream"):
                    self._stream(completion_json(body, reply), body if reply.stream_usage else {})
                elif reply.status == 200 and self.path.endswith("/chat/completions"):
                    self._send(200, completion_json(body, reply), reply.headers)
                else:
                    status = reply.status if reply.status != 200 else 404
                    self._send(status, {"error": {"message": f"scripted {status}"}}, reply.headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up: nothing left to answer
            finally:
                if not self.ended:
                    server.end()

        def _stream(self, completion: dict[str, Any], body: dict[str, Any]) -> None:
            """The answer word by word as chat.completion.chunk events, then, when the request asked for it
            (`stream_options.include_usage`), a chunk with no choices and the usage, then [DONE]."""
            content = completion["choices"][0]["message"]["content"]
            server.end()
            self.ended = True
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = content.split(" ")
            for n, word in enumerate(words):
                delta = {"content": word if n == 0 else " " + word}
                chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]}
                self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            # The request stops counting as in flight before its answer leaves: once the client has the
            # answer it may send its next request, which must not find this one still counted.
            server.end()
            self.ended = True
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
