"""Local generation benchmark: the CTranslate2 engine against transformers fp32 on the real SmolLM2.

Both run the same conversations (prompts of about 190 tokens), greedy, in this one process and one run:
tokens per second at 1 and at 8 sequences per call, the engine's time to first streamed token, and the
process's peak resident memory.

    python benchmarks/local_generation.py           # 64 new tokens, 3 rounds each
    python benchmarks/local_generation.py --quick   # 32 new tokens, 1 round each, about a minute

The last line is `name=value …`.
"""

import argparse
import os
import resource
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llm_engineering.domain.generation import ChatMessage, Conversation, GenerationConfig
from llm_engineering.infrastructure.llm import default_model_dir
from llm_engineering.infrastructure.llm.local.ctranslate import CTranslate2ChatModel
from llm_engineering.infrastructure.llm.local.engine_files import ensure_engine_files
from llm_engineering.infrastructure.llm.local.model import TransformersChatModel, ensure_local_model
from llm_engineering.infrastructure.settings import Settings

PASSAGE = (
    "Chunking is a product decision, not a preprocessing step. When I split an article for retrieval I keep "
    "each paragraph whole where I can, because a paragraph is the unit in which an author makes one point. "
    "Splitting by a fixed count of tokens cuts arguments in half and leaves the retriever with fragments "
    "that answer nothing on their own. Overlap hides the damage without repairing it. I measure chunking "
    "by the questions it answers: hit rate on questions written from the text, and whether the passage "
    "a reader gets back says what the author meant."
)
TOPICS = ["chunking", "retries", "evaluation", "caching", "batching", "indexes", "logging", "testing"]


def conversations() -> list[Conversation]:
    """Eight twin-style requests of about 190 prompt tokens each."""
    return [
        [
            ChatMessage(role="system", content="You are Iris Calder. Answer in her voice, from her writing."),
            ChatMessage(
                role="user", content=f"From this passage:\n{PASSAGE}\n\nWhat do you think about {topic}?"
            ),
        ]
        for topic in TOPICS
    ]


def tokens_per_second(
    generate: Callable[[list[Conversation]], int], batch: list[Conversation], rounds: int
) -> float:
    """Generated tokens per second of wall time, the median of `rounds` calls."""
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        generated = generate(batch)
        rates.append(generated / (time.perf_counter() - started))
    return statistics.median(rates)


def first_token_ms(
    model: CTranslate2ChatModel, conversation: Conversation, config: GenerationConfig
) -> float:
    started = time.perf_counter()
    stream = model.stream(conversation, config)
    next(stream)
    elapsed = (time.perf_counter() - started) * 1000
    stream.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 new tokens, one round per measurement.")
    args = parser.parse_args()
    new_tokens, rounds = (32, 1) if args.quick else (64, 3)
    # min_new_tokens is not ours to set, so a long enough budget and a chatty prompt keep both engines busy.
    config = GenerationConfig(max_new_tokens=new_tokens, temperature=0)
    settings = Settings()
    model_dir = ensure_local_model(default_model_dir(settings))
    started = time.perf_counter()
    ensure_engine_files(model_dir)
    print(f"engine files ready in {time.perf_counter() - started:.1f} s (cached after the first run)")

    batch = conversations()
    results: dict[str, dict[int, float]] = {}
    for name, model in (
        ("engine", CTranslate2ChatModel(model_dir, threads=settings.llm_threads, batch_size=8)),
        ("transformers", TransformersChatModel(model_dir, threads=settings.llm_threads, batch_size=8)),
    ):

        def generate(items: list[Conversation], model=model) -> int:
            return sum(c.completion_tokens for c in model.generate(items, config))

        generate(batch[:1])  # load and warm up
        results[name] = {size: tokens_per_second(generate, batch[:size], rounds) for size in (1, 8)}
        print(f"{name:>12}: {results[name][1]:6.1f} tok/s at 1 sequence, {results[name][8]:6.1f} at 8")

    engine = CTranslate2ChatModel(model_dir, threads=settings.llm_threads)
    ttft = statistics.median(first_token_ms(engine, batch[n], config) for n in range(3))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio_1 = results["engine"][1] / results["transformers"][1]
    ratio_8 = results["engine"][8] / results["transformers"][8]
    print(
        f"engine/transformers: {ratio_1:.2f}x at 1 sequence, {ratio_8:.2f}x at 8; first token {ttft:.0f} ms"
    )
    figures = {
        "engine": "ctranslate2-int8",
        "engine_tok_s_1": f"{results['engine'][1]:.1f}",
        "engine_tok_s_8": f"{results['engine'][8]:.1f}",
        "transformers_tok_s_1": f"{results['transformers'][1]:.1f}",
        "transformers_tok_s_8": f"{results['transformers'][8]:.1f}",
        "ratio_1": f"{ratio_1:.2f}",
        "ratio_8": f"{ratio_8:.2f}",
        "ttft_ms": f"{ttft:.0f}",
        "peak_rss_mb": f"{peak_mb:.0f}",
    }
    print(" ".join(f"{name}={value}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
