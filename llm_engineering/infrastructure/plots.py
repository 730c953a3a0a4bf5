"""Charts for the ZenML dashboard: PNG bytes, and an HTML page that shows them."""

import base64
import html
import io
from collections.abc import Sequence
from typing import Any


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
