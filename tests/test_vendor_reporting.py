"""Installed SDKs report nothing to their vendors on their own (comet_ml comes in with transformers)."""

import os
import subprocess
import sys


def test_importing_the_trainer_after_the_package_leaves_sentry_off() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("COMET_", "OPIK_"))}
    code = (
        "import llm_engineering, transformers.trainer, sentry_sdk, sys; "
        "assert 'comet_ml' in sys.modules, 'comet_ml is imported by the trainer when installed'; "
        "print(sentry_sdk.get_client().is_active())"
    )
    # comet_ml turns Sentry on for a random share of processes, so several are started.
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "False"
