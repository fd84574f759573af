"""The per-course secret: made once, private, and the same for judges that start together."""

from __future__ import annotations

import stat
import subprocess
import sys

from grader.course import Course


def test_judges_starting_together_read_one_complete_secret(course):
    """Do eight processes racing to create the secret all get the same non-empty value?"""
    (course.root / ".grader-secret").unlink(missing_ok=True)
    code = "import sys; from grader.course import Course; print(Course.at(sys.argv[1]).secret().decode())"
    racers = [subprocess.Popen([sys.executable, "-c", code, str(course.root)], stdout=subprocess.PIPE, text=True)
              for _ in range(8)]
    values = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert len(values) == 1 and len(values.pop()) == 64
    assert stat.S_IMODE((course.root / ".grader-secret").stat().st_mode) == 0o600
    assert [p.name for p in course.root.glob(".grader-secret*")] == [".grader-secret"]


def test_secret_is_stable_across_calls(course):
    """Does the secret stay the same once made (so regrades reproduce hidden inputs)?"""
    assert Course.at(course.root).secret() == Course.at(course.root).secret()
