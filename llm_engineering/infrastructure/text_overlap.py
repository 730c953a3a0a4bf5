"""Reference-overlap metrics: how much of the author's own answer a model's answer says (ROUGE-L, BLEU)."""

from collections.abc import Sequence

from llm_engineering.application.evaluation_config import TextMetric
from llm_engineering.domain.exceptions import TwinError


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if not predictions or len(predictions) != len(references):
        raise ValueError(
            f"Need one reference per prediction and at least one pair, got {len(predictions)} predictions "
            f"and {len(references)} references."
        )


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure of each prediction against its reference, with Porter stemming."""
    _check_pairs(predictions, references)
    # Imported here: rouge-score pulls in NLTK, which takes a second or more to import.
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rougeL"], use_stemmer=True)
    scores = [
        scorer.score(reference, prediction)["rougeL"].fmeasure
        for prediction, reference in zip(predictions, references, strict=True)
    ]
    return float(sum(scores) / len(scores))


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU of the predictions against one reference each, scaled from sacrebleu's 0-100 to 0-1."""
    _check_pairs(predictions, references)
    import sacrebleu

    score = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score / 100
    # sacrebleu's exp/log arithmetic can land a hair above 100 for identical texts.
    return min(max(score, 0.0), 1.0)


REFERENCE_METRICS: dict[str, TextMetric] = {"rouge_l": rouge_l, "bleu": bleu}
"""Every reference metric an evaluation config may name; a new metric is a function here and its entry."""


def reference_metrics(names: Sequence[str]) -> dict[str, TextMetric]:
    """The metrics a config names, in its order; an unknown name is refused with the known ones."""
    unknown = [name for name in names if name not in REFERENCE_METRICS]
    if unknown:
        raise TwinError(
            f"Unknown reference metric(s) {', '.join(unknown)} in the evaluation config; "
            f"known: {', '.join(REFERENCE_METRICS)}."
        )
    return {name: REFERENCE_METRICS[name] for name in names}
