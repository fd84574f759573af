"""The kit's step of nbgrader's generate_assignment, so that `grader release` and plain
`nbgrader generate_assignment` write the same release: the check runtime beside the visible
checks, each compared question's visible cases with the solution's replies, and the notebook's stamp.

The course config sets `GenerateAssignment.preprocessors` to `KIT_GENERATE_PREPROCESSORS`,
nbgrader's own list with `KitRelease` after it (the stamp goes on the notebook nbgrader has
finished, and nbgrader has already copied the files beside it when notebooks are converted);
`grader release` adds the step to a course config that lacks it.
"""

from __future__ import annotations

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import NbGraderPreprocessor

from grader.assignment import VISIBLE_CHECKS
from grader.compared import write_shipped_cases
from grader.judge.nbgrader_preprocessor import course_of_app
from grader.release.generate import ship_runtime
from grader.release.stamp import STAMP, stamp_with_release

__all__ = ["KitRelease", "KIT_GENERATE_PREPROCESSORS", "with_kit_step"]


class KitRelease(NbGraderPreprocessor):
    """Put a copy of the check runtime (and each compared question's visible cases) in the release's checks/ and stamp the release notebook (its assignment, digests and first release time)."""

    def preprocess(self, nb, resources):
        course = course_of_app(self, resources["nbgrader"]["assignment"])
        ship_runtime(course.release_notebook().parent / VISIBLE_CHECKS)
        write_shipped_cases(course.spec, course.release_notebook().parent / VISIBLE_CHECKS)
        nb.metadata[STAMP] = stamp_with_release(course)
        return nb, resources


KIT_GENERATE_PREPROCESSORS = [*GenerateAssignment.class_traits()["preprocessors"].default(), KitRelease]


def with_kit_step(preprocessors: list) -> list:
    """A GenerateAssignment.preprocessors list that ends with the kit's step."""
    kept = [p for p in preprocessors if p is not KitRelease and p != f"{__name__}.KitRelease"]
    return [*kept, KitRelease]
