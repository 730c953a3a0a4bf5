"""API fuzzing: schemathesis against every operation of the service's OpenAPI schema; the goal is no 5xx.

Serves the real app (`create_app`) with uvicorn on 127.0.0.1, built from the test suite's fakes (two-author
feature store in memory, hashing embedder, scripted streaming model, embedded warehouse for traces and
feedback in a temporary DATA_DIR). Schemathesis reads `/openapi.json` and, for every operation, generates
seeded cases that follow the schema (positive) and that break it (negative); each is sent over HTTP.

Counted: cases, responses by status, 5xx responses (every one is listed with its request, to reproduce it),
streamed answers that ended in an `error` event (a server error hidden behind a 200), and the findings of
schemathesis's own response checks (schema conformance, undocumented status codes …), reported apart
since they are not server errors. Only schemathesis's generated cases run (its examples, coverage and
stateful phases belong to the `schemathesis run` command line).

    python benchmarks/api_fuzz.py           # 300 cases per operation and mode
    python benchmarks/api_fuzz.py --quick   # 25 cases per operation and mode

The last line is `name=value …`.
"""

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from loguru import logger

from llm_engineering.domain.exceptions import TwinError


@dataclass
class Findings:
    cases: Counter[str] = field(default_factory=Counter)  # by operation label
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # status and curl command per 5xx
    stream_errors: list[str] = field(default_factory=list)  # curl command per failed stream
    check_failures: Counter[str] = field(default_factory=Counter)  # by check title
    check_examples: dict[str, str] = field(default_factory=dict)  # one failing request per check title
    no_cases: list[str] = field(default_factory=list)  # operations and modes with no possible case


def describe(case: Any, status: int) -> str:
    """The request as one short line: method, path, query, body (cut at 500 characters), status."""
    from schemathesis.core import NotSet

    sent = "-" if isinstance(case.body, NotSet) else json.dumps(case.body, default=str)[:500]
    query = f"?{case.query}" if case.query else ""
    return f"{case.method} {case.formatted_path}{query} body={sent} -> {status}"


def stream_failed(response: Any) -> bool:
    """Whether a 200 event stream carried an error: a server error the status code cannot show."""
    content_types = response.headers.get("content-type", [])  # schemathesis keeps every value of a header
    if not any(value.startswith("text/event-stream") for value in content_types):
        return False
    return "event: error" in response.text or '"error":' in response.text


def record(findings: Findings, case: Any, response: Any, base_url: str) -> None:
    """Count the case and its status; keep 5xx and failed streams as curl commands that reproduce them."""
    from schemathesis.core.failures import Failure, FailureGroup

    label = f"{case.method} {case.path}"
    findings.cases[label] += 1
    findings.statuses[response.status_code] += 1
    if response.status_code >= 500:
        findings.server_errors.append(f"{response.status_code}: {case.as_curl_command(base_url=base_url)}")
    elif stream_failed(response):
        findings.stream_errors.append(case.as_curl_command(base_url=base_url))
    try:
        case.validate_response(response)
    except FailureGroup as group:
        failures: tuple[Failure, ...] = group.exceptions
    except Failure as failure:
        failures = (failure,)
    else:
        failures = ()
    for failure in failures:
        title = f"{label}: {failure.title}"
        findings.check_failures[title] += 1
        findings.check_examples.setdefault(title, describe(case, response.status_code))


def fuzz(base_url: str, examples: int, seed: int) -> tuple[int, Findings]:
    """Every operation of the schema, in both generation modes; returns the operation count and findings."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):
            raise TwinError(f"Schemathesis cannot read an operation of the service's schema: {result.err()}")
        operations.append(result.ok())
    findings = Findings()
    with requests.Session() as session:
        for operation in operations:
            for mode in schemathesis.GenerationMode:

                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @seeded(seed)
                @given(case=operation.as_strategy(generation_mode=mode))
                def send(case: Any) -> None:
                    response = case.call(base_url=base_url, session=session, timeout=30)
                    record(findings, case, response, base_url)

                try:
                    send()
                except Unsatisfiable:  # nothing to break: an operation without parameters or body
                    findings.no_cases.append(f"{operation.method.upper()} {operation.path} ({mode.value})")
    return len(operations), findings


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="25 cases per operation and mode")
    parser.add_argument("--examples", type=int, help="cases per operation and mode (default 300; quick 25)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logger.remove()  # the app logs every answer; the findings below are what matters
    logger.add(sys.stderr, level="WARNING")
    examples = args.examples or (25 if args.quick else 300)

    # The checkout's `tests` package, ahead of site-packages: a sagemaker dependency (smdebug-rulesconfig)
    # installs a top-level `tests` package of its own there.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.service import fake_parts, running

    with tempfile.TemporaryDirectory(prefix="twin-fuzz-") as folder:
        with running(lambda: fake_parts(Path(folder))) as base_url:
            operations, findings = fuzz(base_url, examples, args.seed)

    for label, count in sorted(findings.cases.items()):
        print(f"{label}: {count} cases")
    print(f"no case possible: {', '.join(findings.no_cases) or 'none'}")
    print(f"statuses: {dict(sorted(findings.statuses.items()))}")
    for line in findings.server_errors:
        print(f"5xx: {line}")
    for line in findings.stream_errors:
        print(f"error in stream: {line}")
    for title, count in sorted(findings.check_failures.items()):
        print(f"check failed {count}x: {title}; e.g. {findings.check_examples[title]}")
    print(
        f"fuzz_operations={operations} fuzz_cases={sum(findings.cases.values())} "
        f"fuzz_5xx={len(findings.server_errors)} fuzz_stream_errors={len(findings.stream_errors)} "
        f"fuzz_check_failures={sum(findings.check_failures.values())}"
    )


if __name__ == "__main__":
    main()
