"""Inference service benchmark: what dynamic batching buys on a real local model, and behaviour under load.

Serves the real app (`create_app`) with uvicorn on 127.0.0.1, built from the test suite's small two-author
feature store (in memory, hashing embedder) and an embedded warehouse for traces in a temporary DATA_DIR:

- batching phase, with the real local SmolLM2-135M-Instruct (`TransformersChatModel`): the same number of
  `POST /rag` requests (greedy, 32 new tokens) sent one at a time and eight at a time; the goal is eight at
  a time answering at least twice as many requests per second, because the DynamicBatcher answers
  concurrent requests in one batched `generate` call (the mean batch size the model saw is printed);
- load phase, with a fast stand-in model (`SlowModel`: a fixed delay per batch, however large) so that
  hundreds of requests finish quickly: 16 clients against a queue of at most 4, so that the service must
  refuse work; the goal is no 5xx other than 503 (busy, with Retry-After).

    python benchmarks/inference_service.py           # 48 requests per concurrency, 400 under load
    python benchmarks/inference_service.py --quick   # 16 requests per concurrency, 100 under load

The last line is `name=value …`.
"""

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.settings import Settings

TOPICS = (
    "chunking documents", "retries and backoff", "filtered search in Qdrant", "frozen evaluation sets",
    "overlap between chunks", "payload indexes", "fixed token windows", "outages", "tuning prompts",
)  # fmt: skip
BATCHED = 8  # the concurrency compared with one at a time, and the service's largest batch
FORMS = (
    "What does {author} think about {topic}?",
    "How does {author} handle {topic}?",
    "Summarise what {author} wrote on {topic}.",
)


@dataclass
class Outcome:
    status: int  # 0 when the request got no HTTP response at all
    seconds: float


class CountingModel:
    """Passes every batch to the wrapped model and keeps its size: the batches the DynamicBatcher made."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.model_id: str = model.model_id  # type: ignore[attr-defined]
        self.batch_sizes: list[int] = []

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        self.batch_sizes.append(len(conversations))
        return self.model.generate(conversations, config)  # type: ignore[attr-defined, no-any-return]


def questions(count: int, seed: int) -> list[str]:
    """Seeded questions naming one of the two authors of the test store."""
    rng = random.Random(seed)
    authors = ("Iris Calder", "Tom Okafor")
    return [
        rng.choice(FORMS).format(author=rng.choice(authors), topic=rng.choice(TOPICS)) for _ in range(count)
    ]


def send_all(base_url: str, asked: list[str], concurrency: int, max_tokens: int) -> list[Outcome]:
    """POST every question to /rag from `concurrency` client threads; one outcome per request."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=base_url, timeout=300, limits=limits) as client:

        def send(question: str) -> Outcome:
            started = time.perf_counter()
            try:
                status = client.post("/rag", json={"query": question, "max_tokens": max_tokens}).status_code
            except httpx.TransportError:
                status = 0  # counted apart: a dropped connection is a failure of its own kind
            return Outcome(status, time.perf_counter() - started)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(send, asked))


def throughput(base_url: str, asked: list[str], concurrency: int, max_tokens: int) -> float:
    """Requests per second; every request must succeed, or the figure would mean nothing."""
    started = time.perf_counter()
    outcomes = send_all(base_url, asked, concurrency, max_tokens)
    elapsed = time.perf_counter() - started
    statuses = Counter(o.status for o in outcomes)
    if set(statuses) != {200}:
        raise TwinError(f"/rag answered {dict(statuses)} at concurrency {concurrency}; expected only 200.")
    return len(asked) / elapsed


@dataclass
class Batching:
    throughput: dict[int, float]  # requests per second by concurrency
    batch_sizes: dict[int, list[int]]  # sizes of the batches the model got, by concurrency


def batching_phase(data_dir: Path, model_dir: Path, requests: int, max_tokens: int, seed: int) -> Batching:
    """Throughput at concurrency 1 and 8 with the real model, on the same questions; two rounds in
    opposite order, so that drift in the machine's speed hits both alike."""
    from llm_engineering.infrastructure.llm.local.model import TransformersChatModel
    from tests.support.service import fake_parts, running

    model = CountingModel(TransformersChatModel(model_dir, threads=Settings().llm_threads))
    asked, half = questions(requests, seed), requests // 2
    seconds = {1: 0.0, BATCHED: 0.0}
    sizes: dict[int, list[int]] = {1: [], BATCHED: []}
    with running(lambda: fake_parts(data_dir, model, max_batch=BATCHED)) as base_url:  # type: ignore[arg-type]
        send_all(base_url, questions(9, seed + 1), BATCHED, max_tokens)  # loads the model, warms shapes
        for round_, order in enumerate(((1, BATCHED), (BATCHED, 1))):
            part = asked[round_ * half : (round_ + 1) * half]
            for concurrency in order:
                model.batch_sizes.clear()
                seconds[concurrency] += len(part) / throughput(base_url, part, concurrency, max_tokens)
                sizes[concurrency] += model.batch_sizes
    return Batching({c: 2 * half / s for c, s in seconds.items()}, sizes)


@dataclass
class Load:
    statuses: Counter[int]  # 0 counts requests that got no HTTP response
    ok_ms: list[float]


def load_phase(data_dir: Path, requests: int, concurrency: int, max_queue: int, delay_s: float) -> Load:
    """Statuses and latencies of `requests` sent by `concurrency` clients to a service with a small queue."""
    from tests.support.service import SlowModel, cite_first_source, fake_parts, running

    model = SlowModel(cite_first_source, delay_s)

    def build() -> TwinParts:
        return fake_parts(data_dir, model, max_batch=4, max_queue=max_queue)

    with running(build) as base_url:
        outcomes = send_all(base_url, questions(requests, seed=requests), concurrency, max_tokens=32)
    return Load(Counter(o.status for o in outcomes), [o.seconds * 1000 for o in outcomes if o.status == 200])


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else math.nan


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="16 requests per concurrency, 100 under load")
    parser.add_argument("--requests", type=int, help="requests per concurrency (default 48; quick 16)")
    parser.add_argument("--max-tokens", type=int, default=32, help="new tokens per answer")
    parser.add_argument(
        "--load-requests", type=int, help="requests of the load phase (default 400; quick 100)"
    )
    parser.add_argument("--load-concurrency", type=int, default=16)
    parser.add_argument("--load-max-queue", type=int, default=4, help="the service's queue in the load phase")
    parser.add_argument(
        "--load-delay-s", type=float, default=0.05, help="the stand-in model's time per batch"
    )
    parser.add_argument(
        "--model-dir", type=Path, help="a saved chat model (default: the local SmolLM2 in DATA_DIR/models)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logger.remove()  # a debug line per retrieval would flood the output and cost time under load
    logger.add(sys.stderr, level="INFO")
    requests = args.requests or (16 if args.quick else 48)
    load_requests = args.load_requests or (100 if args.quick else 400)
    if args.model_dir is None:
        from llm_engineering.infrastructure.llm import default_model_dir
        from llm_engineering.infrastructure.llm.local.model import ensure_local_model

        model_dir = ensure_local_model(default_model_dir(Settings()))
    else:
        model_dir = args.model_dir

    with tempfile.TemporaryDirectory(prefix="twin-service-bench-") as folder:
        batched = batching_phase(Path(folder) / "batching", model_dir, requests, args.max_tokens, args.seed)
        load = load_phase(
            Path(folder) / "load",
            load_requests,
            args.load_concurrency,
            args.load_max_queue,
            args.load_delay_s,
        )

    c1, c8 = batched.throughput[1], batched.throughput[BATCHED]
    mean_batch = {c: statistics.fmean(sizes) for c, sizes in batched.batch_sizes.items()}
    statuses = load.statuses
    other_5xx = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
    print(f"batching ({model_dir.name}): {c1:.2f} req/s one at a time, {c8:.2f} req/s eight at a time")
    seen = dict(sorted(Counter(batched.batch_sizes[BATCHED]).items()))
    print(f"batch sizes the model got at concurrency {BATCHED}: {seen}")
    print(
        f"load (stand-in model, {args.load_delay_s} s per batch): statuses {dict(sorted(statuses.items()))}"
    )
    print(
        f"requests={2 * (requests // 2)} max_tokens={args.max_tokens} throughput_c1={c1:.3f} "
        f"throughput_c8={c8:.3f} concurrency_ratio={c8 / c1:.2f} mean_batch_c1={mean_batch[1]:.2f} "
        f"mean_batch_c8={mean_batch[BATCHED]:.2f} load_requests={load_requests} load_ok={statuses[200]} "
        f"load_503={statuses[503]} load_5xx_other={other_5xx} load_no_response={statuses[0]} "
        f"load_ok_p50_ms={percentile(load.ok_ms, 50):.1f} load_ok_p95_ms={percentile(load.ok_ms, 95):.1f}"
    )


if __name__ == "__main__":
    main()
