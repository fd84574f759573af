"""`grader report`: gather the class report, draw its charts, write the page and the PNGs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.report.charts import CHART_FILES, question_outcomes_png, score_distribution_png
from grader.report.class_report import ClassReport, gather_report
from grader.report.html import render_html

__all__ = ["write_report", "ReportFiles", "REPORT_HTML"]

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"


@dataclass
class ReportFiles:
    report: ClassReport
    html: Path
    data: Path
    charts: list[Path]


def write_report(root: str | Path, assignment: str, output: str | Path | None = None, *,
                 threshold: float = 0.5) -> ReportFiles:
    """Write report.html (self-contained), report.json and the chart PNGs under output
    (default: <course>/reports/<assignment>) and return where they are."""
    if not 0 <= threshold <= 1:
        raise ValueError(f"the threshold is a fraction of the points, between 0 and 1, not {threshold}")
    report = gather_report(root, assignment, threshold=threshold)
    output = Path(output) if output else Path(root) / "reports" / assignment
    output.mkdir(parents=True, exist_ok=True)
    pngs = {"score distribution": score_distribution_png(report), "outcomes by question": question_outcomes_png(report)}
    charts = []
    for name, png in pngs.items():
        charts.append(output / CHART_FILES[name])
        charts[-1].write_bytes(png)
    html_path, data_path = output / REPORT_HTML, output / REPORT_JSON
    html_path.write_text(render_html(report, pngs), encoding="utf-8")
    data_path.write_text(json.dumps(_report_json(report), indent=1, ensure_ascii=False), encoding="utf-8")
    return ReportFiles(report, html_path, data_path, charts)


def _report_json(report: ClassReport) -> dict:
    data = asdict(report)
    data["counts"] = report.counts_note()
    for question, stats in zip(data["questions"], report.questions, strict=True):
        question.update(attempted=stats.attempted, pass_rate=stats.pass_rate)
    return data
