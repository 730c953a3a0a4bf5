"""Reference-overlap metrics (ROUGE-L, BLEU) and the chart that compares evaluated models."""

import io
from collections.abc import Sequence

from llm_engineering.domain.evaluation import ModelScores


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


METRICS = ("judge_accuracy", "judge_style", "rouge_l", "bleu")
TITLES = {
    "judge_accuracy": "Judge accuracy",
    "judge_style": "Judge style",
    "rouge_l": "ROUGE-L",
    "bleu": "BLEU",
}


def comparison_plot(scores: Sequence[ModelScores]) -> bytes:
    """A PNG of grouped bars per model: judge scores on their 1-3 scale, ROUGE-L and BLEU on 0-1."""
    if not scores:
        raise ValueError("Need the scores of at least one model to plot.")
    # The Agg canvas directly, not pyplot: no global figure state and no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4), layout="constrained")
    FigureCanvasAgg(figure)
    panels = {"Judge (1-3)": METRICS[:2], "Overlap with the author's answers (0-1)": METRICS[2:]}
    width = 0.8 / len(scores)
    for axes, (title, metrics) in zip(figure.subplots(1, 2), panels.items(), strict=True):
        for n, model in enumerate(scores):
            values = [float(getattr(model, metric)) for metric in metrics]
            positions = [i + (n - (len(scores) - 1) / 2) * width for i in range(len(metrics))]
            bars = axes.bar(positions, values, width, label=model.model)
            axes.bar_label(bars, fmt="%.2f", fontsize=8)
        axes.set_xticks(range(len(metrics)), [TITLES[metric] for metric in metrics])
        axes.set_ylim(0, 3.3 if metrics == METRICS[:2] else 1.1)
        axes.set_title(title)
    figure.legend(*figure.axes[0].get_legend_handles_labels(), loc="outside right upper")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
