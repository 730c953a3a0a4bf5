"""Fidelity benchmark: does the newest trained twin write like its author, and does the service cite well?

From the stores the main job leaves (run `make quickstart` first), in one run:
- style fidelity: the newest instruction dataset's test split (passages never trained on, with the
  instructions written for them) is answered by the base model and by the newest registry version; a
  verifier trained on the author's held-out passages against the base answers scores both, and the
  author's own held-out text (cross-fitted) is the ceiling; every share with its 95% bootstrap interval;
- citation precision of the service: a fixed set of questions goes through the service's own path
  (configs/inference.yaml: guardrails, self-query, expansion, reranking, the sourced prompt) and the served
  model's answers are graded claim by claim against the passages they cite.

    python benchmarks/fidelity.py           # every test sample, 128 new tokens
    python benchmarks/fidelity.py --quick   # 40 test samples, 64 new tokens: about three minutes

The last line is `name=value …`; scores are shares attributed to the author, 0 to 1.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")

from llm_engineering.application import answering
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.fidelity import measure_style_fidelity
from llm_engineering.application.grounding import EmbeddingSupport, measure_grounding
from llm_engineering.application.scoring import answer_questions
from llm_engineering.domain.bootstrap import bootstrap_mean
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.registry import Artifact
from llm_engineering.infrastructure.container import get_embedder
from llm_engineering.infrastructure.container.models import (
    LocalModelLoader,
    get_model_registry,
    served_model,
    serving_chat_model,
)
from llm_engineering.infrastructure.container.service import build_retriever, read_answer_config
from llm_engineering.infrastructure.style_verifier import CharNgramVerifier

# Questions a reader of the sample author would ask; each is answered from her writing by the service.
QUESTIONS = [
    "What does Iris Calder think about chunking documents?",
    "Why should data pipelines be boring?",
    "How does Iris decide on the size of a chunk?",
    "What makes a pipeline safe to re-run?",
    "Why are rerankers worth their cost?",
    "What evaluation set does Iris wish she had built first?",
    "How can a small model run on a laptop?",
    "What does Iris look for first when hiring ML engineers?",
]


def held_out(limit: int | None) -> list[tuple[str, str]]:
    """(instruction, author's passage) pairs of the newest instruction dataset's test split."""
    from zenml.client import Client

    try:
        test = Client().get_artifact_version(Artifact.INSTRUCT_DATASETS).load()["test"]
    except KeyError as error:
        raise TwinError("No instruction dataset yet; run `make quickstart` first.") from error
    pairs = list(zip(test["instruction"], test["output"], strict=True))
    return pairs[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 test samples, 64 new tokens")
    parser.add_argument("--samples", type=int, default=None, help="Most test samples to answer.")
    args = parser.parse_args()
    most = args.samples or (40 if args.quick else None)
    config = EvaluationConfig.model_validate(
        {"generation": {"max_new_tokens": 64 if args.quick else 128, "temperature": 0.0}, "batch_size": 64}
    )
    started = time.perf_counter()
    samples = held_out(most)
    instructions, references = [i for i, _ in samples], [r for _, r in samples]
    registry, loader = get_model_registry(), LocalModelLoader()
    newest = registry.latest()
    base = loader.base("base")
    twin = loader.load(registry.model_dir(newest.number), f"v{newest.number}")
    base_answers = answer_questions(base, instructions, config)
    twin_answers = answer_questions(twin, instructions, config)
    fidelity = measure_style_fidelity(
        CharNgramVerifier(),
        references,
        base_answers,
        {"twin": twin_answers},
        config.fidelity_folds,
        config.seed,
    )
    print(f"Style fidelity on {len(samples)} held-out samples (twin: version {newest.number}):")
    for label, found in fidelity.labels.items():
        share = found.share
        print(
            f"  {label:<7} {share.estimate:.3f} [{share.low:.3f}, {share.high:.3f}]  "
            f"profile distance {found.profile_distance:.3f}"
        )
    answer_config = read_answer_config(Path("configs/inference.yaml"))
    served = served_model(registry)
    model = serving_chat_model(served)
    retriever = build_retriever(answer_config.retrieval, model)
    prepared = [answering.prepare(question, retriever, answer_config) for question in QUESTIONS]
    asked = [p for p in prepared if p.refusal is None and p.retrieval is not None]
    answers = model.generate([p.conversation for p in asked], answer_config.generation)
    passages = [[chunk.content for chunk in p.context] for p in asked]
    grounding = measure_grounding(
        [(answer.text, context) for answer, context in zip(answers, passages, strict=True)],
        EmbeddingSupport(get_embedder()),
    )
    precision = grounding.citation_precisions
    interval = bootstrap_mean(precision) if precision else None
    shown = f"{interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}]" if interval else "none cite"
    print(
        f"Citation precision of the service ({served.source.value}) on {len(asked)} questions, "
        f"{len(precision)} answers citing: {shown}"
    )
    print(f"Took {time.perf_counter() - started:.0f} s")
    author, base_share, twin_share = (fidelity.labels[label].share for label in ("author", "base", "twin"))
    print(
        f"author_score={author.estimate:.3f} author_ci_low={author.low:.3f} "
        f"base_score={base_share.estimate:.3f} base_ci_low={base_share.low:.3f} "
        f"base_ci_high={base_share.high:.3f} twin_score={twin_share.estimate:.3f} "
        f"twin_ci_low={twin_share.low:.3f} twin_ci_high={twin_share.high:.3f} "
        f"citation_precision={f'{interval.estimate:.3f}' if interval else 'nan'}"
    )


if __name__ == "__main__":
    main()
