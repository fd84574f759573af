"""nbgrader configuration for the course whose root is this file's directory."""

import os
import sys

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

# The course root is wherever this file lives, so the kit works from any working
# directory and from a temporary copy of the course (see grader/assignment.py).
ROOT = os.path.dirname(os.path.abspath(__file__))

# A late-penalty plugin of the course's own (c.AssignLatePenalties.plugin_class = "late.SubMarks",
# see docs/course-rules.md) lives beside this file: importable by nbgrader, formgrader and the kit
# whatever directory they run in (appended: a course file never shadows a library).
if ROOT not in sys.path:
    sys.path.append(ROOT)

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "derivatives-in-pytorch"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")

# Each assignment's hidden checks and answer banks sit beside its notebook in source/<id>/
# and are for the instructor only: never copied into release/, nor beside a submission at
# autograde time.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "hidden", "banks"]

# Every release is the kit's: `nbgrader generate_assignment` (and formgrader's Generate button)
# run nbgrader's own steps and then the kit's, which puts a copy of the check runtime beside the
# release's visible checks and stamps the notebook (its assignment, digests of what grades it);
# `grader release` runs the same steps and then audits the release.
from grader.release.nbgrader_step import KIT_GENERATE_PREPROCESSORS  # noqa: E402

c.GenerateAssignment.preprocessors = KIT_GENERATE_PREPROCESSORS

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# nbgrader's Execute preprocessor (autograde) inherits this; it keeps its own
# allow_errors=True so one failing cell does not stop grading of the others.
c.ExecutePreprocessor.timeout = 60

# Every autograde path is the kit's: `nbgrader autograde` and formgrader's Autograde button
# run these steps, with nbgrader's Execute (student code in a kernel inside the TA's process)
# replaced by the kit's contained judge, which rebuilds the notebook from the release. The
# kit's SaveVerdicts then records the verdicts as nbgrader's SaveAutoGrades would, so
# `grader autograde` and nbgrader give one score (grader/judge/nbgrader_steps.py).
from grader.judge.nbgrader_steps import KIT_AUTOGRADE_PREPROCESSORS, KIT_SANITIZE_PREPROCESSORS  # noqa: E402

c.Autograde.autograde_preprocessors = KIT_AUTOGRADE_PREPROCESSORS
# A submitted test cell as the release gave it lacks only the hidden tests generate_assignment
# removed: nbgrader's OverwriteCells would report every one as a changed checksum (tampering, to a
# TA). The kit's step restores them silently and still reports a test cell the student edited.
c.Autograde.sanitize_preprocessors = KIT_SANITIZE_PREPROCESSORS
# A submitted notebook nbgrader cannot read reaches the kit's judge too (its verdict: unreadable);
# the autograde pass starts from the release notebook, which the kit's judge replaces anyway.
c.Autograde.exporter_class = "grader.judge.nbgrader_preprocessor.SubmissionReader"

# The exchange that release_assignment, fetch_assignment, submit, collect, release_feedback
# and fetch_feedback share. nbgrader's default place (nbgrader 0.9's Exchange.root), so
# students need no configuration of their own; create it once as root:
# mkdir -p /usr/local/share/nbgrader/exchange && chmod 777 it.
# Trying the cycle alone? Pass --Exchange.root=/some/folder to every command.
c.Exchange.root = "/usr/local/share/nbgrader/exchange"

# Feedback HTML and formgrader's grading view: every page is inert and rendered in linear time
# (docs/pages.md). InertNotebook rebuilds the notebook from what a page may show (bounded text,
# plain and image outputs, nbgrader's grading metadata); the kit's filters render markdown and
# code with bounded, safe renderers; the kit's templates, searched before nbgrader's, put each
# page's Content-Security-Policy into nbgrader's feedback and formgrade templates. Then
# ReadableFeedback wraps failure messages and says what the feedback's total counts; feedback
# runs its own list after these, where that step must follow GetGrades (the total).
# (Classes, not names: nbgrader lists this list's classes in its --help.)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from grader.pages.exporter import inert_pages  # noqa: E402
from grader.report.feedback import GradesWithHandGradingState, ReadableFeedback  # noqa: E402

c.HTMLExporter.preprocessors = [ReadableFeedback]
inert_pages(c)  # InertNotebook first, the kit's templates and filters, FeedbackExporter for feedback
# nbgrader's GetGrades, marking hand-graded answers not scored yet (the gradebook counts them 0)
c.GenerateFeedback.preprocessors = [GradesWithHandGradingState, CSSHTMLHeaderPreprocessor, ReadableFeedback]
# The template's own CSSHTMLHeaderPreprocessor would run after ReadableFeedback in formgrader's
# exporter and replace its CSS; ReadableFeedback makes that highlighting CSS itself.
c.CSSHTMLHeaderPreprocessor.enabled = False
