"""The service follows the registry's production version, over HTTP: a promoted version loads while the
served one answers and takes over without a failed request; a failed load keeps the served one; a pinned
model stays."""

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.ports import ChatModel
from llm_engineering.application.retrieval import RetrievalConfig
from llm_engineering.application.serving import ServedModel, choose_served_model
from llm_engineering.domain.generation import ChatMessage, GenerationConfig
from llm_engineering.domain.registry import Stage
from llm_engineering.infrastructure.api.batching import DynamicBatcher, ServiceBusyError
from llm_engineering.infrastructure.api.reloading import WARM_UP
from llm_engineering.infrastructure.api.service import ModelSource, TwinParts
from tests.support.fakes import InMemoryRegistry
from tests.support.service import (
    StreamingScriptedModel,
    cite_first_source,
    fake_parts,
    fake_retriever,
    running,
)

QUESTION = "How does Iris Calder chunk documents?"
EXPANDING = RetrievalConfig(queries=2, top_k=2)  # a rewrite per question: expansion goes through the batcher
INTERVAL_S = 0.05
LOAD_S = 0.3  # a load takes a while, and the served version answers meanwhile


def versioned_model(number: int) -> StreamingScriptedModel:
    """Answers `vN As I wrote: …`, streamed a word every 5 ms so that streams run across the swap."""
    model = StreamingScriptedModel(lambda user, attempt: f"v{number} {cite_first_source(user, attempt)}")
    model.model_id, model.pause_s = f"twin-v{number}", 0.005
    return model


def registry_of(tmp_path: Path, versions: int, production: int) -> InMemoryRegistry:
    registry = InMemoryRegistry()
    for number in range(1, versions + 1):
        registry.register(tmp_path / f"v{number}")
    registry.promote(production, Stage.PRODUCTION, "the first one served")
    return registry


@dataclass
class Source:
    """A model source over a fake registry, recording each load; `broken` versions fail to load."""

    registry: InMemoryRegistry
    models: dict[int, StreamingScriptedModel]
    broken: frozenset[int] = frozenset()
    pinned: bool = False

    def __post_init__(self) -> None:
        self.loads: list[tuple[int, float, float]] = []  # version, seconds, when it ended (monotonic)

    def load(self) -> tuple[ServedModel, ChatModel]:
        started = time.perf_counter()
        served = choose_served_model(self.registry, None, allow_backend=False)
        assert served.version is not None
        time.sleep(LOAD_S)
        self.loads.append((served.version.number, time.perf_counter() - started, time.monotonic()))
        if served.version.number in self.broken:
            raise OSError(f"{served.model_dir}/model.bin is truncated")
        return served, self.models[served.version.number]

    def parts(self, tmp_path: Path, version: str | None) -> TwinParts:
        """The service's parts as the composition root makes them: the first model behind a batcher that
        the retriever expands queries with too."""
        first = DynamicBatcher(self.models[1], max_wait_s=0.005)
        source = ModelSource(
            self.registry,
            self.load,
            lambda expander: fake_retriever(EXPANDING, expander),
            self.pinned,
            INTERVAL_S,
        )
        return fake_parts(
            tmp_path,
            first,
            retriever=fake_retriever(EXPANDING, first),
            config=AnswerConfig(retrieval=EXPANDING),
            model_version=version,
            source=source,
        )


@dataclass
class Answer:
    endpoint: str
    started: float
    ended: float
    version: str | None
    model: str
    text: str


def ask_whole(http: httpx.Client) -> Answer:
    started = time.monotonic()
    response = http.post("/rag", json={"query": QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    return Answer("/rag", started, time.monotonic(), body["model_version"], body["model"], body["answer"])


def ask_streamed(http: httpx.Client) -> Answer:
    started = time.monotonic()
    response = http.post("/rag/stream", json={"query": QUESTION})
    assert response.status_code == 200, response.text
    events = [
        (fields["event"], json.loads(fields["data"]))
        for block in response.text.strip().split("\n\n")
        if (fields := dict(line.split(": ", 1) for line in block.splitlines()))
    ]
    assert [name for name, _ in events if name not in ("sources", "token")] == ["done"], events[-1]
    done = events[-1][1]
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed == done["answer"]  # every piece arrived, from one model
    return Answer("/rag/stream", started, time.monotonic(), done["model_version"], done["model"], streamed)


def keep_asking(url: str, clients: int) -> tuple[list[Answer], list[str], Callable[[], None]]:
    """`clients` threads asking /rag and /rag/stream in turn until the returned `stop` is called."""
    answers: list[Answer] = []
    failures: list[str] = []
    stopping = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stopping.is_set():
                try:
                    answers.append(ask_streamed(http) if n % 2 else ask_whole(http))
                except (AssertionError, httpx.HTTPError) as error:
                    failures.append(repr(error))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()

    def stop() -> None:
        stopping.set()
        for thread in threads:
            thread.join(timeout=30)

    return answers, failures, stop


def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_promoted_version_takes_over_under_load_without_a_failed_request(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, versions=2, production=1)
    source = Source(registry, {n: versioned_model(n) for n in (1, 2)})
    parts = source.parts(tmp_path, "1")
    with running(lambda: parts) as url:
        answers, failures, stop = keep_asking(url, clients=8)
        wait_for(lambda: len(answers) >= 16)
        promoted = time.monotonic()
        registry.promote(2, Stage.PRODUCTION, "better on the evaluation")
        wait_for(lambda: any(a.version == "2" for a in answers))
        followed = min(a.ended for a in answers if a.version == "2")
        wait_for(lambda: sum(a.started > followed for a in answers) >= 16)
        stop()
        health = httpx.get(f"{url}/health", timeout=5).json()
        ready = httpx.get(f"{url}/ready", timeout=5).json()
        listed = httpx.get(f"{url}/v1/models", timeout=5).json()
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        with pytest.raises(ServiceBusyError, match="shutting down"):  # the replaced batcher, once idle
            parts.model.generate([[ChatMessage(role="user", content="late")]], GenerationConfig())

    assert failures == []
    for answer in answers:  # each from the model of the version it reports, streams included
        assert (
            answer.text.startswith(f"v{answer.version} As I wrote:")
            and answer.model == f"twin-v{answer.version}"
        )
    assert any(a.version == "1" and a.started > promoted for a in answers)  # v1 answered while v2 loaded
    assert {a.version for a in answers if a.started > followed} == {"2"}
    assert {a.endpoint for a in answers if a.version == "2"} == {"/rag", "/rag/stream"}
    assert health["model_version"] == ready["model_version"] == "2"
    assert [model["id"] for model in listed["data"]] == ["llm-twin-v2"]
    assert 'twin_model_reloads_total{outcome="loaded"} 1.0' in metrics
    v2_asked = source.models[2].asked
    assert v2_asked[0] == WARM_UP[0].content  # warmed before it took a request
    expansions = [asked for asked in v2_asked[1:] if "[1] https://example.org" not in asked]
    assert len(expansions) == sum(a.version == "2" for a in answers)  # its own batcher expands queries
    [(_, load_s, loaded)] = source.loads
    took_over = min(a.started for a in answers if a.version == "2")  # the swap came before this request
    spanning = [a for a in answers if a.version == "1" and a.ended > took_over]
    assert spanning  # requests admitted before the swap finished on v1, after v2 took over
    print(
        f"\nreload: promoted -> first v2 answer {followed - promoted:.3f} s (polling every {INTERVAL_S} s, "
        f"fake load {load_s:.3f} s); load end -> first v2 request {took_over - loaded:.3f} s (warm-up and "
        f"swap); {len(answers)} answers, {len(spanning)} v1 ones finished after v2 took over, longest "
        f"{max(a.ended - a.started for a in answers):.3f} s"
    )


def reloads(metrics: str, outcome: str) -> float:
    found = re.search(rf'twin_model_reloads_total{{outcome="{outcome}"}} (\S+)', metrics)
    return float(found[1]) if found else 0.0


def test_a_failed_load_is_counted_the_served_version_answers_and_the_next_look_retries(
    tmp_path: Path,
) -> None:
    registry = registry_of(tmp_path, versions=3, production=1)
    source = Source(registry, {n: versioned_model(n) for n in (1, 2, 3)}, broken=frozenset({2}))
    parts = source.parts(tmp_path, "1")
    with running(lambda: parts) as url:
        registry.promote(2, Stage.PRODUCTION, "looked better")
        wait_for(lambda: len(source.loads) >= 2)  # it failed, then tried again
        answer = httpx.post(f"{url}/rag", json={"query": QUESTION}, timeout=10).json()
        ready = httpx.get(f"{url}/ready", timeout=5).json()
        failed = reloads(httpx.get(f"{url}/metrics", timeout=5).text, "failed")
        registry.promote(3, Stage.PRODUCTION, "fixed")
        wait_for(lambda: httpx.get(f"{url}/health", timeout=5).json()["model_version"] == "3")
        answer_after = httpx.post(f"{url}/rag", json={"query": QUESTION}, timeout=10).json()

    assert answer["model_version"] == ready["model_version"] == "1" and answer["answer"].startswith("v1 ")
    assert failed >= 2
    assert answer_after["model_version"] == "3" and answer_after["answer"].startswith("v3 ")


def test_a_pinned_model_is_never_swapped(tmp_path: Path) -> None:
    registry = registry_of(tmp_path, versions=2, production=1)
    source = Source(registry, {n: versioned_model(n) for n in (1, 2)}, pinned=True)
    parts = source.parts(tmp_path, None)
    with running(lambda: parts) as url:
        registry.promote(2, Stage.PRODUCTION, "better on the evaluation")
        time.sleep(10 * INTERVAL_S)
        answer = httpx.post(f"{url}/rag", json={"query": QUESTION}, timeout=10).json()
        health = httpx.get(f"{url}/health", timeout=5).json()
        listed = httpx.get(f"{url}/v1/models", timeout=5).json()

    assert source.loads == []
    assert answer["answer"].startswith("v1 ") and answer["model_version"] is None
    assert health["model_version"] is None and [m["id"] for m in listed["data"]] == ["llm-twin"]
