"""The inference-side benchmarks run end to end at their tiniest sizes and print the figures they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

from llm_engineering.infrastructure.llm import default_model_dir
from llm_engineering.infrastructure.llm.local.model import is_model_dir
from llm_engineering.infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOCAL_MODEL = default_model_dir(Settings())


def figures(script: str, *args: str) -> dict[str, float]:
    """Run a benchmark and read its last line, `name=value …`."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    return {name: float(value) for name, value in (pair.split("=", 1) for pair in last.split())}


def operations_in_schema() -> int:
    from llm_engineering.infrastructure.api.app import create_app

    paths = create_app(lambda: pytest.fail("the schema must not need the service's parts")).openapi()["paths"]
    return sum(len(methods) for methods in paths.values())


def test_api_fuzz_reaches_every_operation_without_server_errors() -> None:
    found = figures("api_fuzz.py", "--examples", "3")
    assert found["fuzz_operations"] == operations_in_schema()
    assert found["fuzz_cases"] >= found["fuzz_operations"]
    assert found["fuzz_5xx"] == 0
    assert found["fuzz_stream_errors"] == 0


@pytest.mark.slow
def test_retrieval_benchmark_times_all_three_searches_on_the_store_it_built() -> None:
    found = figures("retrieval.py", "--chunks", "60", "--questions", "3", "--pool", "40", "--warmup", "1")
    assert (found["chunks"], found["questions"]) == (60, 3)
    for name in ("retrieval", "bare_search", "search_only"):
        assert 0 < found[f"{name}_p50_ms"] <= found[f"{name}_p95_ms"]
    assert found["ratio_p50"] == pytest.approx(
        found["retrieval_p50_ms"] / found["bare_search_p50_ms"], rel=0.01
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not is_model_dir(LOCAL_MODEL),
    reason=f"no converted SmolLM2 in {LOCAL_MODEL}; run benchmarks/inference_service.py once to convert it",
)
def test_inference_service_benchmark_sends_rag_and_chat_and_counts_what_the_small_queue_refused() -> None:
    found = figures(
        "inference_service.py",
        *("--requests", "2", "--max-tokens", "4", "--overload-requests", "6", "--max-queue", "2"),
    )
    assert list(found) == [
        "rag_rps_c1",
        "rag_rps_c8",
        "rag_ratio_c8",
        "chat_ratio_c8",
        "p95_ttft_ratio_c8",
        "c16_ok",
        "c16_503",
        "c16_other_5xx",
    ]
    assert found["rag_rps_c1"] > 0 and found["rag_rps_c8"] > 0 and found["p95_ttft_ratio_c8"] > 0
    assert found["rag_ratio_c8"] == pytest.approx(found["rag_rps_c8"] / found["rag_rps_c1"], abs=0.02)
    # Six requests at once against a queue of two: some are answered, the rest refused at once.
    assert found["c16_ok"] >= 1 and found["c16_503"] >= 1
    assert found["c16_ok"] + found["c16_503"] + found["c16_other_5xx"] == 6
