"""The evaluation report as one HTML page: the verdict, metrics with intervals, answers side by side."""

import html
from collections.abc import Sequence
from typing import Any

from llm_engineering.application.evaluating import EvaluationReport
from llm_engineering.domain.bootstrap import Interval
from llm_engineering.infrastructure.plots import comparison_plot, html_page

EXAMPLES = 6  # test samples shown with every model's answer


def _interval(interval: Interval | None) -> str:
    if interval is None:
        return "n/a"
    return f"{interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"


def fidelity_rows(report: EvaluationReport) -> list[dict[str, Any]]:
    """Per label: the share attributed to the author with its interval, and the stylometric distance."""
    if report.fidelity is None:
        return []
    return [
        {
            "label": label,
            "attributed to the author": _interval(fidelity.share),
            "profile distance": f"{fidelity.profile_distance:.3f}",
            "largest gaps": ", ".join(list(fidelity.largest_gaps)[:3]),
        }
        for label, fidelity in report.fidelity.labels.items()
    ]


def evaluation_page(report: EvaluationReport) -> str:
    """The whole report: verdict and reason, style fidelity, grounding and retrieval, metrics, examples."""
    evidence = report.evidence
    sections = [
        f"<p><b>Verdict: {report.decision.verdict.value}</b>. {html.escape(report.decision.reason)}</p>",
        "<h3>Style fidelity</h3>",
        "<p>Share of answers a verifier trained on the author's held-out writing (against the base model's "
        "answers) attributes to the author; the author's own held-out text is the ceiling.</p>",
        _table(fidelity_rows(report)),
        "<h3>Differences, candidate minus production</h3>",
        _table(
            [
                {"metric": "style fidelity", "difference [95% interval]": _interval(evidence.style)},
                {
                    "metric": "citation precision",
                    "difference [95% interval]": _interval(evidence.citation_precision),
                },
            ]
        ),
    ]
    if report.rag is not None:
        sections += [
            "<h3>The service's retrieval and grounding</h3>",
            _table([{"metric": name, "value": f"{value:.3f}"} for name, value in report.retrieval.items()]),
            _table(
                [
                    {
                        "model": label,
                        "citation precision": _interval(report.rag.precision_interval(label)),
                        **{name: f"{value:.3f}" for name, value in summary.metrics().items()},
                    }
                    for label, summary in report.rag.grounding.items()
                ]
            ),
        ]
    examples = [
        {"instruction": row.instruction, "author": row.reference, **row.answers}
        for row in report.rows[:EXAMPLES]
    ]
    sections += ["<h3>Answers side by side</h3>", _table(examples)]
    metrics = [{"model": s.model, **{k: round(v, 4) for k, v in s.metrics().items()}} for s in report.scores]
    page = html_page("Evaluation report", [comparison_plot(report.scores)], metrics)
    return page.replace("</h2>", "</h2>\n" + "\n".join(sections), 1)
