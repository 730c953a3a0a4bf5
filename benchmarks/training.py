"""Training benchmark: SFT throughput with packing against without, and peak memory of LoRA against full.

Each case trains SmolLM2-135M-Instruct for a few SFT steps on the same synthetic instruction data, in a
process of its own so that its peak resident memory is its own:

    python benchmarks/training.py           # 12 steps per case
    python benchmarks/training.py --quick   # 4 steps per case, under two minutes on a quiet 2-core machine

The last line is `name=value …`.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "data model chunk token batch train cache index query vector answer source metric loss adapter".split()
)


def synthetic_rows(count: int, seed: int) -> list[dict[str, str]]:
    """Instruction rows of varied length, as real datasets are: padding is what packing saves."""
    rng = random.Random(seed)
    return [
        {
            "instruction": f"How do you handle {rng.choice(WORDS)} {rng.choice(WORDS)} in a pipeline?",
            "output": " ".join(rng.choices(WORDS, k=rng.randint(10, 120))) + ".",
        }
        for _ in range(count)
    ]


def run_case(method: str, packing: bool, steps: int) -> dict[str, float]:
    """Train one case in this process and return its throughput and peak memory."""
    from datasets import Dataset, DatasetDict

    from llm_engineering.domain.training import StageSettings, TrainingConfig
    from llm_engineering.infrastructure.llm import default_model_dir
    from llm_engineering.infrastructure.settings import Settings
    from llm_engineering.infrastructure.training.trl_training import train

    rows = synthetic_rows(64, seed=3)
    data = DatasetDict({"train": Dataset.from_list(rows), "test": Dataset.from_list(rows[:4])})
    stage = StageSettings(
        learning_rate=1e-4, max_steps=steps, per_device_batch_size=4, gradient_accumulation_steps=1
    )
    config = TrainingConfig(method=method, stages=["sft"], packing=packing, max_length=256, sft=stage)
    default_base = default_model_dir(Settings())
    with tempfile.TemporaryDirectory(prefix="twin-train-bench-") as folder:
        result = train(config, data, None, Path(folder), default_base_dir=default_base)
    summary = result.stages["sft"]
    return {
        "tokens_per_second": summary.tokens_per_second,
        "seconds_per_step": summary.seconds / max(summary.steps, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_subprocess(method: str, packing: bool, steps: int) -> dict[str, float]:
    case = json.dumps({"method": method, "packing": packing, "steps": steps})
    output = subprocess.run(
        [sys.executable, __file__, "--case", case], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 steps per case")
    parser.add_argument("--steps", type=int, help="SFT steps per case (default 12, quick 4)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        case = json.loads(args.case)
        print(json.dumps(run_case(case["method"], case["packing"], case["steps"])))
        return
    steps = args.steps or (4 if args.quick else 12)
    packed = in_subprocess("lora", True, steps)
    padded = in_subprocess("lora", False, steps)
    full = in_subprocess("full", True, steps)
    for name, case in (("lora packed", packed), ("lora padded", padded), ("full packed", full)):
        print(
            f"{name}: {case['tokens_per_second']:.0f} tokens/s, {case['seconds_per_step']:.1f} s/step, "
            f"peak {case['peak_rss_mb']:.0f} MB"
        )
    packing_ratio = packed["tokens_per_second"] / padded["tokens_per_second"]
    print(
        f"steps={steps} packing_tokens_per_s_ratio={packing_ratio:.2f} "
        f"lora_vs_full_peak_memory_ratio={packed['peak_rss_mb'] / full['peak_rss_mb']:.2f} "
        f"lora_peak_rss_mb={packed['peak_rss_mb']:.0f} full_peak_rss_mb={full['peak_rss_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
