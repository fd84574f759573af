"""Judge processes for parallel autograde: student ids go in, verdicts come back as JSON lines.

Each judge is a fresh `python -m grader.judge.pool COURSE ASSIGNMENT [FD]`; as root the judges share
one warm parent that the pool starts (FD is a judge's control socket to it), otherwise each starts
its own. The pool keeps every judge busy with a small queue, so memory stays flat in the size of the
class.
"""

from __future__ import annotations

import gc
import json
import os
import select
import selectors
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from grader.course import Course
from grader.judge.results import SubmissionResult, ungraded_result

__all__ = ["JudgePool", "serve"]

QUEUE_PER_JUDGE = 2


class JudgePool:
    """`jobs` judge processes for one course; `grade(students)` yields results as they finish."""

    def __init__(self, course: Course, jobs: int, *, wait: bool = True):
        """Start `jobs` judges together, so their warm-ups overlap. With wait=False this returns
        at once and the caller's own start-up overlaps theirs; `ready()` waits for them."""
        from grader.worker.client import launch_warm_parent, warm_parent_config
        from grader.worker.limits import Limits

        self.course = course
        course.secret()  # made once here, before judges that would each try to make it
        # As root, one warm parent for every judge: one warm image to start and to hold in
        # memory. Otherwise each judge starts its own, so that its workers are its descendants:
        # under YAMA's ptrace scope only an ancestor may read a worker's memory from outside.
        self.parent = self._parent_link = None
        ends = [None] * jobs
        if os.geteuid() == 0:
            config = warm_parent_config(Limits(), course_root=course.root, functions=course.spec.vocabulary_path)
            self.parent, (self._parent_link, *ends) = launch_warm_parent(config, judges=jobs)
        self.judges = [self._start(end) for end in ends]
        for end in ends:
            if end is not None:
                end.close()
        self.readers = {judge.pid: _Lines(judge.stdout.fileno()) for judge in self.judges}
        self._containment: dict | None = None
        if wait:
            self.ready()

    def ready(self) -> dict:
        """Wait until every judge is warm; what isolation their workers get. RuntimeError if one failed."""
        if self._containment is None:
            containment = {}
            for judge in self.judges:
                hello = _hello(self.readers[judge.pid].read_one())
                if not hello.get("ready"):
                    self.close()
                    raise RuntimeError("a judge process did not start (see the messages above)")
                containment = containment or hello.get("containment") or {}
            self._containment = containment
        return self._containment

    @property
    def containment(self) -> dict:
        return self.ready()

    def __enter__(self) -> "JudgePool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for judge in self.judges:
            if judge.stdin and not judge.stdin.closed:
                judge.stdin.close()
        for judge in self.judges:
            try:
                judge.wait(timeout=30)
            except subprocess.TimeoutExpired:
                judge.kill()
                judge.wait()
        if self.parent is not None:
            self._parent_link.sock.close()  # the last control socket: the warm parent exits
            try:
                self.parent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.parent.kill()
                self.parent.wait()

    def grade(self, students: Iterable[str]) -> Iterator[SubmissionResult]:
        """Results in completion order; a judge that dies costs its queued students a 'crashed' status."""
        return self._run(students)

    def grade_notebooks(self, notebooks: Iterable[tuple[str, str]]) -> Iterator[SubmissionResult]:
        """Results for (student, notebook path) pairs outside submitted/ (the release audit's cases),
        in completion order; each student id must be unique in the call."""
        return self._run({"student": student, "notebook": str(path)} for student, path in notebooks)

    def _run(self, requests: Iterable[str | dict]) -> Iterator[SubmissionResult]:
        self.ready()
        queue = iter(requests)
        outstanding = {judge.pid: [] for judge in self.judges}
        selector = selectors.DefaultSelector()
        for judge in self.judges:
            selector.register(judge.stdout.fileno(), selectors.EVENT_READ, (judge, self.readers[judge.pid]))
            self._feed(judge, queue, outstanding[judge.pid])
        while any(outstanding.values()):
            for key, _ in selector.select():
                judge, lines = key.data
                yield from self._collect(judge, lines, selector, queue, outstanding[judge.pid])

    def _collect(self, judge, lines: "_Lines", selector, queue, pending: list) -> Iterator[SubmissionResult]:
        received = lines.read()
        if received is None:
            selector.unregister(judge.stdout.fileno())
            for request in pending:
                yield ungraded_result(_student_of(request), f"{self.course.notebook}.ipynb", "crashed",
                                      ["the judge process stopped"], self.course.autograded)
            pending.clear()
            return
        for line in received:
            result = SubmissionResult.from_dict(json.loads(line))
            pending.remove(next(r for r in pending if _student_of(r) == result.student))
            self._feed(judge, queue, pending)
            yield result

    def _feed(self, judge, queue, pending: list) -> None:
        while len(pending) < QUEUE_PER_JUDGE:
            request = next(queue, None)
            if request is None:
                return
            pending.append(request)
            judge.stdin.write(json.dumps(request) + "\n")
            judge.stdin.flush()

    def _start(self, control) -> subprocess.Popen:
        # one thread per judge: parallelism comes from the judges, not from BLAS thread pools
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        shared = [str(control.fileno())] if control is not None else []
        return subprocess.Popen(
            [sys.executable, "-m", "grader.judge.pool", str(self.course.root), self.course.assignment, *shared],
            env=env, pass_fds=[control.fileno()] if control is not None else [],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,  # stdout is read raw, by _Lines
        )


def _student_of(request: str | dict) -> str:
    return request["student"] if isinstance(request, dict) else request


def _hello(line: bytes | None) -> dict:
    """A judge's first line: {"ready": true, "containment": {...}}; {} when it is anything else."""
    try:
        hello = json.loads(line or b"null")
    except ValueError:
        return {}
    return hello if isinstance(hello, dict) else {}


class _Lines:
    """Whole lines from a pipe, read without Python's buffering so select() never misses one."""

    def __init__(self, fd: int):
        self.fd, self.partial = fd, b""

    def read(self) -> list[bytes] | None:
        """The complete lines available now; None once the pipe is closed."""
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            return None
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        return lines

    def read_one(self) -> bytes | None:
        """Block for exactly one line (used before any other line can arrive)."""
        while b"\n" not in self.partial:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.partial += chunk
        line, self.partial = self.partial.split(b"\n", 1)
        return line


def serve(course_root: str, assignment: str, control_fd: int | None = None) -> None:
    """In a judge process: grade each student id read from stdin, one JSON line per verdict.

    A verdict is written only once its workers are confirmed dead; that confirmation is
    deferred until the next submission has started, so the kernel's teardown of one job
    overlaps the next.
    """
    from grader.judge.grader import Grader

    results = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # nothing but verdicts goes to the pool
    held: list[SubmissionResult] = []
    import socket

    control = socket.socket(fileno=control_fd) if control_fd is not None else None
    with Grader(Course.at(course_root, assignment), control=control) as grader:
        gc.freeze()  # later collections skip torch's and nbgrader's long-lived objects
        results.write(json.dumps({"ready": True, "containment": grader.containment}) + "\n")
        while True:
            if held and not _input_waiting():
                _release(grader, held, results, keep=0)
            line = sys.stdin.readline()
            if not line:
                break
            held.append(_grade(grader, json.loads(line)))
            _release(grader, held, results, keep=1)
        _release(grader, held, results, keep=0)


def _grade(grader, request: str | dict) -> SubmissionResult:
    """A student id grades submitted/<id>/; {"student", "notebook"} grades that notebook file."""
    if isinstance(request, dict):
        return grader.grade_notebook(Path(request["notebook"]), request["student"])
    return grader.grade_student(request, settle=False)


def _release(grader, held: list, results, keep: int) -> None:
    grader.settle(keep_last=keep)
    while len(held) > keep:
        results.write(json.dumps(held.pop(0).to_dict()) + "\n")


def _input_waiting() -> bool:
    return bool(select.select([sys.stdin], [], [], 0)[0])


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
