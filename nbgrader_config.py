"""nbgrader configuration for the course whose root is this file's directory."""

import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

# The course root is wherever this file lives, so the kit works from any working
# directory and from a temporary copy of the course (see grader/assignment.py).
ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "derivatives-in-pytorch"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")

# Each assignment's hidden checks and answer banks sit beside its notebook in source/<id>/
# and are for the instructor only: never copied into release/, nor beside a submission at
# autograde time.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "hidden", "banks"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# nbgrader's Execute preprocessor (autograde) inherits this; it keeps its own
# allow_errors=True so one failing cell does not stop grading of the others.
c.ExecutePreprocessor.timeout = 60
