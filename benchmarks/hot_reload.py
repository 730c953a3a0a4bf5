"""Benchmark: a promotion while users ask questions. Does the running service switch by itself, how soon, and
does any request fail meanwhile?

Runs the real service (`python -m tools.run serve`, the shipped configs/inference.yaml, the production model)
in a child process, sends real `/rag` requests (query expansion on) from client threads without a pause,
promotes another version with `python -m tools.run models promote` as a user would, and waits until an answer
names it. The original production version is promoted back at the end. Needs two trained versions in the
registry (the main job and one more training or continuous-training run).

    python -m benchmarks.hot_reload [--version N] [--clients 4] [--max-tokens 24]

The last line is `reload_s=… failed_during_reload=… requests=… served_by_old=… served_by_new=…`: seconds
from the promotion to the first answer by the new version (the service looks every `reload_interval_s`, 30 s
as shipped), and requests that did not get a 200 from the promotion until then plus 10 s.
"""

import argparse
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = (
    "How do you decide how long chunks should be?",
    "Why should a data pipeline be boring?",
    "What does a reranker buy you?",
    "How do you run a small model on a laptop, honestly?",
)
ENV = os.environ | {"ZENML_ANALYTICS_OPT_IN": "false", "HF_HUB_OFFLINE": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tools.run", *args], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"`tools.run {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def versions() -> tuple[int, int]:
    """The production version and the newest other version with a model, from the registry."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    registry = get_model_registry()
    production = registry.production()
    if production is None:
        raise SystemExit("No production version: run the main job first (`poe run-quickstart`).")
    others = [v.number for v in registry.list_versions() if v.number != production.number and v.model_dir]
    if not others:
        raise SystemExit("Only one trained version: train another (`poe run-training-pipeline`).")
    return production.number, max(others)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version", type=int, default=None, help="Version to promote; default: the newest other."
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    old, new = versions()
    new = args.version or new
    port = free_port()
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.run",
            "serve",
            "--config",
            "configs/inference.yaml",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    outcomes: list[tuple[float, int, str | None]] = []  # (finished at, status, version that answered)
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=300) as http:
            while not stop.is_set():
                body = {"query": QUESTIONS[n % len(QUESTIONS)], "max_tokens": args.max_tokens}
                try:
                    response = http.post("/rag", json=body)
                    version = response.json().get("model_version") if response.status_code == 200 else None
                    outcomes.append((time.perf_counter(), response.status_code, version))
                except httpx.TransportError:
                    outcomes.append((time.perf_counter(), 0, None))
                n += args.clients

    try:
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        else:
            raise SystemExit("The service did not become ready in 300 s.")
        print(f"serving version {old}; promoting version {new} under {args.clients} clients", flush=True)
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        time.sleep(15)  # every client has had answers from the old version
        promoted_at = time.perf_counter()
        cli("models", "promote", str(new), "--stage", "production")
        switched_at = None
        while time.perf_counter() - promoted_at < 120 and switched_at is None:
            switched_at = next((t for t, s, v in outcomes if t > promoted_at and v == str(new)), None)
            time.sleep(0.2)
        if switched_at is None:
            raise SystemExit(f"No answer named version {new} within 120 s of its promotion.")
        time.sleep(10)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        service.terminate()
        service.wait(timeout=60)
        cli("models", "promote", str(old), "--stage", "production")
    during = [o for o in outcomes if promoted_at <= o[0] <= switched_at + 10]
    failed = sum(1 for _, status, _ in during if status != 200)
    by_version = Counter(v for _, _, v in outcomes)
    statuses = Counter(s for _, s, _ in outcomes)
    print(f"answers by version: {dict(by_version)}; statuses: {dict(statuses)}")
    print(
        f"reload_s={switched_at - promoted_at:.1f} failed_during_reload={failed} requests={len(outcomes)} "
        f"served_by_old={by_version[str(old)]} served_by_new={by_version[str(new)]}"
    )


if __name__ == "__main__":
    main()
