"""Charts for the ZenML dashboard: PNG bytes, and an HTML page that shows them."""

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from llm_engineering.domain.evaluation import ModelScores


def loss_curve_png(history: Sequence[dict[str, Any]]) -> bytes:
    """Train (and eval, where logged) loss per step, one line per training stage."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    for stage in dict.fromkeys(row["stage"] for row in history):
        for key, style in (("loss", "-"), ("eval_loss", "--")):
            points = [
                (row["step"], row[key])
                for row in history
                if row["stage"] == stage and row.get(key) is not None
            ]
            if points:
                steps, values = zip(*points, strict=True)
                axes.plot(
                    steps, values, style, marker="o", markersize=3, label=f"{stage} {key.replace('_', ' ')}"
                )
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def html_page(title: str, images: Sequence[bytes], table: Sequence[dict[str, Any]] = ()) -> str:
    """A self-contained HTML page with a heading, PNG images and an optional table."""
    parts = [f"<h2>{html.escape(title)}</h2>"]
    if table:
        columns = list(table[0])
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
            for row in table
        )
        parts.append(f"<table border='1' cellpadding='4'><tr>{head}</tr>{rows}</table>")
    parts += [f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>" for png in images]
    return "\n".join(parts)


def _cell(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_plot(scores: Sequence[ModelScores]) -> bytes:
    """A PNG of grouped bars per model: judge scores on their 1-3 scale, each reference metric on 0-1."""
    if not scores:
        raise ValueError("Need the scores of at least one model to plot.")
    # The Agg canvas directly, not pyplot: no global figure state and no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4), layout="constrained")
    FigureCanvasAgg(figure)
    reference = list(dict.fromkeys(name for model in scores for name in model.reference))
    panels = {
        "Judge (1-3)": (["judge_accuracy", "judge_style"], 3.3),
        "Overlap with the author's answers (0-1)": (reference, 1.1),
    }
    width = 0.8 / len(scores)
    for axes, (title, (metrics, top)) in zip(figure.subplots(1, 2), panels.items(), strict=True):
        for n, model in enumerate(scores):
            named = {
                "judge_accuracy": model.judge_accuracy,
                "judge_style": model.judge_style,
                **model.reference,
            }
            values = [float(named.get(metric, 0.0)) for metric in metrics]
            positions = [i + (n - (len(scores) - 1) / 2) * width for i in range(len(metrics))]
            bars = axes.bar(positions, values, width, label=model.model)
            axes.bar_label(bars, fmt="%.2f", fontsize=8)
        axes.set_xticks(range(len(metrics)), metrics)
        axes.set_ylim(0, top)
        axes.set_title(title)
    figure.legend(*figure.axes[0].get_legend_handles_labels(), loc="outside right upper")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
