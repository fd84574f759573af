"""Time a release on a fresh copy of the sample course: full audit, one question, and nbgrader's own generate."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_autograde import one_release  # noqa: E402

from grader.demo.run import kit_course_root, prepare_course  # noqa: E402
from grader.release.generate import generate_release  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--question", help="the question released alone (default: the last autograded one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        course = prepare_course(Path(folder) / "course", kit_course_root())
        generate_release(course)
        question = args.question or course.autograded[-1].id
        stock, full, one = one_release(course, question, args.passes)
    print(f"generate_assignment {stock:.2f} s, release {full:.2f} s, release --question {question} {one:.2f} s")
    print(f"release_vs_generate={full / stock:.2f}(<=3) question_vs_release={one / full:.2f}(<=0.33)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
