"""Inference service benchmark: what users send, to the service as a user's machine runs it.

Crawls and embeds the bundled sample author (Iris Calder) into a temporary DATA_DIR as `poe build-samples`,
the ETL and the feature pipeline would, without ZenML (embedded warehouse and Qdrant, the real MiniLM
embedder), and serves the real app on 127.0.0.1 (uvicorn), built by the composition root's `build_parts` from
configs/inference.yaml: query expansion on, the bundled SmolLM2 on LLM_ENGINE (CTranslate2 by default) behind
the one DynamicBatcher. httpx client threads then send, in one run:

1. `POST /rag` questions about her topics, at concurrency 1, then the same ones at 8;
2. multi-turn `POST /v1/chat/completions` (question, answer, a follow-up that refers back), every other one
   streamed, at 1 then 8; time to first token (TTFT): until the first chunk with `delta.content`;
3. a mix of the three at concurrency 16, with the same parts behind a queue of 8 (`max_queue`).

Goals: /rag requests per second at 8 at least 2.5 times those at 1; p95 TTFT at 8 under 3 times that at 1; at
16, no failure but deliberate 503s (with Retry-After): another status, a dropped connection, or a 200 stream
ending in an error event counts as `c16_other_5xx`. The mean batch is what the DynamicBatcher handed the
model (expansions included), before the local engine splits it into prompts of like length.

    python benchmarks/inference_service.py           # 16 requests per phase, the config's 160 new tokens
    python benchmarks/inference_service.py --quick   # 8 per phase, 48 new tokens: about 3 minutes

The last line is `rag_rps_c1=… rag_rps_c8=… rag_ratio_c8=… chat_ratio_c8=… p95_ttft_ratio_c8=… c16_ok=…
c16_503=… c16_other_5xx=…`.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")

import httpx
from loguru import logger

from llm_engineering.application import etl
from llm_engineering.application.features import FeatureConfig, update_feature_store
from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure import container
from llm_engineering.infrastructure.api.app import create_app
from llm_engineering.infrastructure.api.batching import DynamicBatcher
from llm_engineering.infrastructure.api.in_thread import served_in_thread
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.container.service import build_parts, build_retriever, read_answer_config
from llm_engineering.infrastructure.llm import default_model_dir
from llm_engineering.infrastructure.llm.local.model import ensure_local_model
from llm_engineering.infrastructure.samples import SAMPLE_AUTHOR, build_sample_sources, sample_links
from llm_engineering.infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HIGH, OVERLOAD = 8, 16  # the concurrency compared with one at a time (the largest batch), and the overload
QUESTIONS = (
    "How do you decide how long chunks should be?",
    "What does Iris Calder check before trusting a retrieval change?",
    "Why should a data pipeline be boring?",
    "What does a reranker buy you?",
    "How do you run a small model on a laptop, honestly?",
    "What did you learn from quantizing a model?",
    "How do you make a pipeline safe to re-run?",
    "What does Iris Calder put in an evaluation set first?",
)
TURNS = (  # a question, the twin's answer, and a follow-up that needs them
    ("How do you pick a chunk size?", "From the text that answers real questions.", "And overlap?"),
    ("Why are your pipelines boring?", "Nobody notices a good one.", "How do you make one safe to re-run?"),
    ("What do you check in a retrieval change?", "Whether the source is in the top five.", "Need a judge?"),
    ("Is a reranker worth it?", "Usually: it is cheap insurance.", "What does it cost in latency?"),
)
Request = tuple[str, dict[str, object]]  # path and JSON body
Figures = dict[str, float]  # a phase's figures, by the names in LABELS
LABELS = {"rps": "req/s", "p95_s": "p95 s", "p95_ttft_s": "p95 TTFT s", "mean_batch": "batcher mean batch"}


@dataclass
class Outcome:
    status: int  # 0: no HTTP response, or the connection dropped mid-stream
    seconds: float
    ttft_s: float | None = None  # streamed answers: until the first chunk with content
    stream_error: bool = False  # a 200 stream that carried an error event
    retry_after: bool = False

    @property
    def kind(self) -> str:
        if 200 <= self.status < 300 and not self.stream_error:
            return "ok"
        return "503" if self.status == 503 and self.retry_after else "other"


def rag_request(n: int, max_tokens: int | None) -> Request:
    body: dict[str, object] = {"query": QUESTIONS[n % len(QUESTIONS)]}
    return "/rag", body | ({"max_tokens": max_tokens} if max_tokens else {})


def chat_request(n: int, stream: bool, max_tokens: int | None) -> Request:
    turns = zip(("user", "assistant", "user"), TURNS[n % len(TURNS)], strict=True)
    messages = [{"role": role, "content": text} for role, text in turns]
    body: dict[str, object] = {"model": "llm-twin", "messages": messages, "stream": stream}
    return "/v1/chat/completions", body | ({"max_tokens": max_tokens} if max_tokens else {})


def mixed_request(n: int, max_tokens: int | None) -> Request:
    """/rag, chat and streamed chat in turn."""
    return rag_request(n, max_tokens) if n % 3 == 0 else chat_request(n, n % 3 == 2, max_tokens)


def send(client: httpx.Client, request: Request) -> Outcome:
    """One request read to its end; for an SSE answer, the time to its first content and any error event."""
    (path, body), started = request, time.perf_counter()
    ttft_s, error = None, False
    try:
        with client.stream("POST", path, json=body) as response:
            for line in response.iter_lines():  # a JSON answer has no `data: ` line
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line.removeprefix("data: "))
                error = error or "error" in chunk
                if ttft_s is None and any(c["delta"].get("content") for c in chunk.get("choices", [])):
                    ttft_s = time.perf_counter() - started
    except httpx.TransportError:  # a failure of its own kind: no status to count it by
        return Outcome(0, time.perf_counter() - started)
    seconds, retry_after = time.perf_counter() - started, "retry-after" in response.headers
    return Outcome(response.status_code, seconds, ttft_s, error, retry_after)


def send_all(base_url: str, requests: list[Request], concurrency: int) -> tuple[list[Outcome], float]:
    """Every request from `concurrency` client threads; their outcomes, and the seconds they took in all."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=base_url, timeout=600, limits=limits) as client:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            started = time.perf_counter()
            outcomes = list(pool.map(lambda request: send(client, request), requests))
            return outcomes, time.perf_counter() - started


def measure(base_url: str, requests: list[Request], concurrency: int, batcher: DynamicBatcher) -> Figures:
    """Requests per second, p95 latencies, mean batch; all must be answered, or the figures mean nothing."""
    batcher.batch_sizes.clear()
    outcomes, seconds = send_all(base_url, requests, concurrency)
    if any(o.kind != "ok" for o in outcomes):
        seen = Counter((o.status, o.stream_error) for o in outcomes)
        raise TwinError(f"At concurrency {concurrency}, (status, stream error): {dict(seen)}; expected 200s.")
    ttfts = [o.ttft_s for o in outcomes if o.ttft_s is not None]
    return {
        "rps": len(requests) / seconds,
        "p95_s": p95([o.seconds for o in outcomes]),
        **({"p95_ttft_s": p95(ttfts)} if ttfts else {}),
        "mean_batch": statistics.fmean(batcher.batch_sizes or [0]),
    }


def p95(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def sample_service(data_dir: Path, model_dir: Path) -> None:
    """Point the settings at embedded stores in `data_dir`, pin `model_dir` as the served model, and crawl
    the sample author into the warehouse and embed her into the feature store, as the pipelines do."""
    os.environ.update(DATA_DIR=str(data_dir), SERVICE_MODEL_DIR=str(model_dir.resolve()))
    for name in ("DATABASE_HOST", "QDRANT_URL", "OPIK_URL"):  # blank is unset: never the user's servers
        os.environ[name] = ""
    container.clear()
    store, crawlers = container.get_warehouse(), container.crawler_lookup(CrawlConfig())
    links = sample_links(build_sample_sources(ROOT / "samples" / "iris-calder", data_dir / "samples"))
    author = etl.get_or_create_user(store, SAMPLE_AUTHOR)
    etl.ensure_failure_rate(etl.crawl_links(links, author, crawlers, store), max_failure_rate=0.0)
    update_feature_store(
        store, container.get_vector_index(), container.get_embedder(), [SAMPLE_AUTHOR], FeatureConfig()
    )


def with_queue(parts: TwinParts, max_queue: int) -> TwinParts:
    """The same model, stores and config behind a new batcher whose queue holds `max_queue`."""
    model = parts.model.model if isinstance(parts.model, DynamicBatcher) else parts.model
    batcher = DynamicBatcher(model, parts.max_batch, parts.max_wait_s, max_queue)
    retriever = build_retriever(parts.config.retrieval, batcher)
    return replace(parts, retriever=retriever, model=batcher, max_queue=max_queue)


def served(parts: TwinParts) -> AbstractContextManager[str]:
    return served_in_thread(create_app(lambda: parts))


def phases(
    base_url: str, args: argparse.Namespace, batcher: DynamicBatcher
) -> dict[tuple[str, int], Figures]:
    """/rag, then chat, at 1 and 8 on one server, after one of each to warm it up."""
    rag = [rag_request(n, args.max_tokens) for n in range(args.requests)]
    chat = [chat_request(n, n % 2 == 0, args.max_tokens) for n in range(args.requests)]
    send_all(base_url, [rag[0], chat[0]], 2)
    return {
        (kind, c): measure(base_url, requests, c, batcher)
        for kind, requests in (("rag", rag), ("chat", chat))
        for c in (1, HIGH)
    }


def overload(parts: TwinParts, args: argparse.Namespace) -> list[Outcome]:
    """A mix of /rag, chat and streamed chat at concurrency 16 against a queue of `args.max_queue`."""
    requests = [mixed_request(n, args.max_tokens) for n in range(args.overload_requests)]
    with served(with_queue(parts, args.max_queue)) as base_url:
        return send_all(base_url, requests, OVERLOAD)[0]


def report(found: dict[tuple[str, int], Figures], crowd: list[Outcome], max_queue: int) -> None:
    print(f"{'':<26}{'at 1':>8}{f'at {HIGH}':>8}{'ratio':>8}")
    ratios = {}
    for kind in ("rag", "chat"):
        for name, one in found[kind, 1].items():
            high = found[kind, HIGH][name]
            ratios[kind, name] = high / one
            print(f"{kind + ' ' + LABELS[name]:<26}{one:>8.3f}{high:>8.3f}{high / one:>8.2f}")
    kinds = Counter(o.kind for o in crowd)
    other = Counter(
        f"{o.status}{' stream error' if o.stream_error else ''}" for o in crowd if o.kind == "other"
    )
    print(f"at {OVERLOAD}, queue {max_queue}: {len(crowd)} requests {dict(kinds)}; other: {dict(other)}")
    print(
        f"rag_rps_c1={found['rag', 1]['rps']:.3f} rag_rps_c8={found['rag', HIGH]['rps']:.3f} "
        f"rag_ratio_c8={ratios['rag', 'rps']:.2f} chat_ratio_c8={ratios['chat', 'rps']:.2f} "
        f"p95_ttft_ratio_c8={ratios['chat', 'p95_ttft_s']:.2f} c16_ok={kinds['ok']} c16_503={kinds['503']} "
        f"c16_other_5xx={kinds['other']}"
    )


def parse_args() -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="8 requests per phase, 48 new tokens, 32 at 16")
    parser.add_argument("--requests", type=int, help="per kind and concurrency (default 16; quick 8)")
    parser.add_argument("--overload-requests", type=int, help="sent at concurrency 16 (default 64; quick 32)")
    parser.add_argument("--max-tokens", type=int, help="per answer (default: the config's; quick 48)")
    parser.add_argument("--max-queue", type=int, default=8, help="the service's queue at concurrency 16")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "inference.yaml")
    parser.add_argument("--model-dir", type=Path, help="the served model (default: the bundled SmolLM2)")
    args = parser.parse_args()
    args.requests = args.requests or (8 if args.quick else 16)
    args.overload_requests = args.overload_requests or (32 if args.quick else 64)
    args.max_tokens = args.max_tokens or (48 if args.quick else None)
    return args


def main() -> None:
    args = parse_args()
    logger.remove()  # a debug line per retrieval would flood the output and cost time under load
    logger.add(sys.stderr, level="INFO")
    model_dir = args.model_dir or ensure_local_model(default_model_dir(Settings()))  # the user's DATA_DIR
    with tempfile.TemporaryDirectory(prefix="twin-service-bench-") as folder:
        sample_service(Path(folder), model_dir)
        parts = build_parts(read_answer_config(args.config))
        if not isinstance(parts.model, DynamicBatcher):
            raise TwinError("build_parts no longer makes the batcher; read its batch sizes elsewhere.")
        tokens = args.max_tokens or f"{parts.config.generation.max_new_tokens} (the config's)"
        print(f"model {model_dir} on {Settings().llm_engine}; new tokens {tokens}; {args.requests} requests "
              f"per phase, {args.overload_requests} at {OVERLOAD}")  # fmt: skip
        with served(parts) as base_url:
            found = phases(base_url, args, parts.model)
        crowd = overload(parts, args)
    report(found, crowd, args.max_queue)


if __name__ == "__main__":
    main()
