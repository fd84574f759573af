"""The class report as one self-contained HTML page: inline CSS, charts as data: URIs, no scripts."""

from __future__ import annotations

import base64
from html import escape

from grader.pages.policy import STATIC_PAGE
from grader.report.charts import chart_texts
from grader.report.class_report import ClassReport, QuestionStats, StudentRow
from grader.report.similar.section import LOOK_ALIKE_STYLE, look_alike_section
from grader.report.tables import how_late

__all__ = ["render_html"]

# Nothing may load from anywhere: the page works offline and text a student wrote cannot fetch.
_CSP = STATIC_PAGE
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.n{text-align:right}.note{background:#fff8dc;padding:.5em .8em;border-left:4px solid #d9b44a}
.passed{color:#2e7d32}.partial{color:#2f5f93}.wrong{color:#a65e00}.error{color:#b0413e}.blank{color:#777}code,.msg{font-family:ui-monospace,monospace;font-size:90%;white-space:pre-wrap}
div.wide{overflow-x:auto}#roster table{table-layout:fixed;width:100%}#roster td,#roster th{font-size:85%;overflow-wrap:anywhere;padding:.25em .3em}
#roster th{font-size:78%}#roster col.student{width:12%}#roster col.status{width:8%}#roster col.score{width:7%}
td ul{margin:0;padding-left:1.1em}
figure{margin:.5em 0 1.2em}figcaption{font-size:90%;color:#444;max-width:60em}
img{max-width:100%;border:1px solid #ddd;margin:.3em}
""" + LOOK_ALIKE_STYLE
_OUTCOME_MARKS = {"passed": "✔", "partial": "◐", "wrong": "✘", "error": "!", "blank": "–"}
MAX_LISTED = 6


def render_html(report: ClassReport, charts: dict[str, bytes]) -> str:
    """The page: summary, questions, charts, misconceptions, students who need help, late work and
    timestamps, hand-graded, answers that look alike, roster."""
    title = f"Class report: {report.assignment}"
    sections = [
        _summary(report),
        _questions(report),
        _charts(report, charts),
        _misconceptions(report),
        _needs_help(report),
        _late_work(report),
        _hand_graded(report),
        look_alike_section(report.look_alike),
        _roster(report),
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def _e(value) -> str:
    return escape(str(value), quote=True)


def _table(header: list[str], rows: list[str], table_id: str, columns: str = "") -> str:
    head = "".join(f"<th>{_breakable(h)}</th>" for h in header)
    return (f'<table id="{table_id}">{columns}<thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(rows)
            + "\n</tbody></table>")


def _breakable(name) -> str:
    """A header that may wrap after each underscore (plot_function_and_derivative in a narrow column)."""
    return "_<wbr>".join(_e(part) for part in str(name).split("_"))


def _cells(*values, numeric: tuple[int, ...] = ()) -> str:
    return "".join(f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>" for i, v in enumerate(values))


def _summary(report: ClassReport) -> str:
    submitted = report.submitted
    scores = [s.score for s in submitted if s.score is not None]
    mean = f"{sum(scores) / len(scores):.2f}" if scores else "–"
    return (f'<section id="summary"><p>Course <b>{_e(report.course_id)}</b>, generated {_e(report.generated)}. '
            f"{len(submitted)} of {len(report.students)} students in the gradebook submitted; "
            f"mean score {mean} of {report.autograded_points + report.hand_graded_points:g}.</p>"
            f'<p class="note" id="counts">{_e(report.counts_note())} Totals and per-question scores are '
            f"the gradebook's.</p></section>")


def _questions(report: ClassReport) -> str:
    header = ["question", "points", "attempted", "passed", "partial", "blank or missing", "wrong", "error",
              "pass rate", "mean score"]
    rows = [f'<tr data-question="{_e(q.id)}">'
            + _cells(q.id, f"{q.max_score:g}", q.attempted, q.passed, q.partial, q.blank, q.wrong, q.error,
                     f"{q.pass_rate:.0%}", f"{q.mean_score:.2f}", numeric=tuple(range(1, 10)))
            + "</tr>" for q in report.questions]
    note = ("<p>Of the submitted students; each answer counts once: passed (full points in the gradebook), "
            "partial (some of its points, not all), blank or missing (the release's cell unchanged, or nothing "
            "to grade), error (crashed or timed out), or wrong (no points). Pass rate is passed over "
            "submitted.</p>")
    return '<section id="questions"><h2>Autograded questions</h2>' + note + _table(header, rows, "question-table") + "</section>"


def _charts(report: ClassReport, charts: dict[str, bytes]) -> str:
    texts = chart_texts(report)
    figures = [f'<figure data-chart="{_e(name)}"><img alt="{_e(texts[name].alt)}" '
               f'src="data:image/png;base64,{base64.b64encode(png).decode()}">'
               f"<figcaption>{_e(texts[name].caption)}</figcaption></figure>"
               for name, png in charts.items()]
    return '<section id="charts"><h2>Charts</h2>' + "".join(figures) + "</section>"


def _misconceptions(report: ClassReport) -> str:
    parts = ['<section id="misconceptions"><h2>Most common misconceptions</h2>'
             "<p>Partly right, wrong or erroring answers grouped by what the check's message says (its "
             "headline, which names the cause), with the observed values left out; blank answers are not "
             "listed.</p>"]
    for question in report.questions:
        parts.append(_question_misconceptions(question))
    return "\n".join(parts) + "</section>"


def _question_misconceptions(question: QuestionStats) -> str:
    heading = f'<h3 id="misconceptions-{_e(question.id)}">{_e(question.id)}</h3>'
    if not question.misconceptions:
        return heading + "<p>No wrong or erroring answers.</p>"
    rows = []
    for group in question.misconceptions:
        example = f"{group.students[0]}: {group.example}"
        rows.append(f'<tr data-question="{_e(question.id)}">' + _cells(group.count, numeric=(0,))
                    + f'<td class="msg">{_e(group.label)}</td><td>{_e(_listed(group.students))}</td>'
                    f'<td><details><summary>example</summary><div class="msg">{_e(example)}</div></details></td></tr>')
    return heading + _table(["students", "misconception", "who", "example"], rows, f"misconceptions-table-{_e(question.id)}")


def _listed(students: list[str]) -> str:
    more = len(students) - MAX_LISTED
    return ", ".join(students[:MAX_LISTED]) + (f" (+{more} more)" if more > 0 else "")


def _needs_help(report: ClassReport) -> str:
    rows = [f'<tr data-student="{_e(s.student)}">' + _cells(s.student, _score(s, report), s.status)
            + "<td><ul>" + "".join(f"<li><b>{_e(r.kind)}</b>{_detail(r.detail)}</li>" for r in s.reasons)
            + "</ul></td></tr>" for s in report.needs_help]
    intro = (f"<p>Not submitted, could not be read, handed in blank (no answer at all), scored below "
             f"{report.threshold:.0%} of the points graded so far, flagged for review (tampering evidence "
             "the autograder found), or with a timestamp the grader did not trust.</p>")
    body = _table(["student", "score", "status", "why"], rows, "needs-help-table") if rows else "<p>Nobody.</p>"
    return f'<section id="needs-help"><h2>Students who need help ({len(rows)})</h2>{intro}{body}</section>'


def _late_work(report: ClassReport) -> str:
    """Late submissions with how late and the penalty the gradebook holds; timestamps not trusted, with why."""
    due = (f"Due {_e(report.due)} (the gradebook's due date; a student's extension moves their own). "
           if report.due else "The assignment has no due date in the gradebook, so no submission is late. ")
    late = [f'<tr data-student="{_e(s.student)}">' + _cells(s.student, s.submitted_at or "–", how_late(s.seconds_late),
                                                             f"{s.late_penalty:g}", _score(s, report), numeric=(3, 4)) + "</tr>"
            for s in report.late]
    late_table = (_table(["student", "submitted", "how late", "penalty", "score"], late, "late-table") if late
                  else "<p>No late submissions.</p>")
    doubtful = [f'<tr data-student="{_e(s.student)}">' + _cells(s.student, s.submitted_at or "–")
                + f'<td class="msg">{_e(s.timestamp_note)}</td></tr>' for s in report.doubtful_times]
    doubtful_table = (_table(["student", "submission time used", "why"], doubtful, "timestamps-table") if doubtful
                      else "<p>Every submission's timestamp.txt was trusted.</p>")
    return (f'<section id="late-work"><h2>Late work and timestamps ({len(late)} late)</h2><p>{due}'
            "Penalties are those the course's late-penalty rule gave (nbgrader's LateSubmissionPlugin or the "
            "course's own plugin); scores are less the penalty.</p>" + late_table
            + "<h3>Timestamps not trusted</h3><p>A timestamp.txt before the release, after the collection, in the "
            "future, malformed or missing: the time the submission was collected is its submission time.</p>"
            + doubtful_table + "</section>")


def _detail(detail: str) -> str:
    return f': <span class="msg">{_e(detail)}</span>' if detail else ""


def _score(student: StudentRow, report: ClassReport) -> str:
    """Out of the assignment's points, whoever is awaiting a TA's score: `16/18 (1 awaiting)`."""
    if student.score is None:
        return "–"
    full = report.autograded_points + report.hand_graded_points
    awaiting = full - student.counted_max
    return f"{student.score:g}/{full:g}" + (f" ({awaiting:g} awaiting)" if awaiting > 1e-9 else "")


def _hand_graded(report: ClassReport) -> str:
    if not report.hand_graded:
        return '<section id="hand-graded"><h2>Hand-graded answers</h2><p>None in this assignment.</p></section>'
    rows = []
    for h in report.hand_graded:
        mean = "–" if h.mean_manual is None else f"{h.mean_manual:.2f}"
        rows.append(f'<tr data-question="{_e(h.id)}">' + _cells(h.id, f"{h.max_score:g}", len(h.graded),
                    len(h.awaiting), len(h.no_response), mean, len(h.to_confirm), numeric=(1, 2, 3, 4, 5, 6))
                    + f"<td>{_e(_listed(h.awaiting))}</td><td>{_e(_listed(h.to_confirm))}</td></tr>")
    header = ["answer", "points", "graded by a TA", "awaiting a TA", "no response (nbgrader scored 0)",
              "mean TA score", "to confirm again (regraded since)", "awaiting", "to confirm"]
    return '<section id="hand-graded"><h2>Hand-graded answers</h2>' + _table(header, rows, "hand-graded-table") + "</section>"


def _roster(report: ClassReport) -> str:
    ids = [q.id for q in report.questions] + [h.id for h in report.hand_graded]
    rows = []
    for s in report.students:
        marks = [_OUTCOME_MARKS.get(s.outcomes.get(q), s.outcomes.get(q, "")) for q in ids]
        scores = "".join(f'<td class="{_e(s.outcomes.get(q, ""))}">{_e(m)} {_e(_fmt(s.scores.get(q)))}</td>'
                         for q, m in zip(ids, marks, strict=True))
        rows.append(f'<tr data-student="{_e(s.student)}">' + _cells(s.student, s.status, _score(s, report)) + scores + "</tr>")
    legend = ("<p>✔ passed, ◐ partial, ✘ wrong, ! error, – blank or missing; hand-graded: graded, awaiting, "
              "no response.</p>")
    columns = '<colgroup><col class="student"><col class="status"><col class="score">' + "<col>" * len(ids) + "</colgroup>"
    return ('<section id="roster"><h2>All students</h2>' + legend + '<div class="wide">'
            + _table(["student", "status", "score", *ids], rows, "roster-table", columns) + "</div></section>")


def _fmt(score) -> str:
    return "" if score is None else f"{score:g}"
