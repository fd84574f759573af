"""`grader report`: gather the class report, draw its charts, write the page and the PNGs."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.report.charts import CHART_FILES, question_outcomes_png, score_distribution_png
from grader.report.class_report import ClassReport, gather_report
from grader.report.html import render_html
from grader.report.similar.compare import LookAlike, compare_submissions
from grader.report.similar.match import preload

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
    with _LookAlikeScan() as scan:
        report = gather_report(root, assignment, threshold=threshold, compare=scan.start)
        pngs = {"score distribution": score_distribution_png(report), "outcomes by question": question_outcomes_png(report)}
        report.look_alike = scan.result()
    output = Path(output) if output else Path(root) / "reports" / assignment
    output.mkdir(parents=True, exist_ok=True)
    charts = []
    for name, png in pngs.items():
        charts.append(output / CHART_FILES[name])
        charts[-1].write_bytes(png)
    html_path, data_path = output / REPORT_HTML, output / REPORT_JSON
    html_path.write_text(render_html(report, pngs), encoding="utf-8")
    data_path.write_text(json.dumps(_report_json(report), indent=1, ensure_ascii=False), encoding="utf-8")
    return ReportFiles(report, html_path, data_path, charts)


class _LookAlikeScan:
    """The look-alike scan in a process of its own, forked at once: it imports scikit-learn while
    the gradebook is read, and compares the class while the charts are drawn. A process that
    fails costs only the time: the scan then runs here."""

    def __enter__(self) -> "_LookAlikeScan":
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=preload)
        self.pool.submit(int)  # starts the process now
        self.job = self.running = None
        return self

    def start(self, *job) -> None:
        """Begin `compare_submissions(*job)`; the section is `result()`."""
        self.job = job
        try:
            self.running = self.pool.submit(compare_submissions, *job)
        except BrokenProcessPool:  # the process is gone already: result() compares here
            self.running = None

    def result(self) -> LookAlike | None:
        if self.job is None:
            return None
        with contextlib.suppress(BrokenProcessPool):
            if self.running is not None:
                return self.running.result()
        return compare_submissions(*self.job)

    def __exit__(self, *exc_info) -> None:
        self.pool.shutdown(cancel_futures=True)


def _report_json(report: ClassReport) -> dict:
    data = asdict(report)
    data["counts"] = report.counts_note()
    for question, stats in zip(data["questions"], report.questions, strict=True):
        question.update(attempted=stats.attempted, pass_rate=stats.pass_rate)
    return data
