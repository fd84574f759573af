"""Judge processes for parallel autograde: student ids go in, verdicts come back as JSON lines.

As root the judges share one warm parent that the pool starts, and one process,
`python -m grader.judge.pool COURSE ASSIGNMENT --judge IN,OUT,CONTROL ...`, pays their start-up
(torch, the checks) once and forks every judge from it: each judge reads student ids on its IN
pipe, writes verdicts on its OUT pipe and asks the warm parent for workers on its CONTROL socket.
Otherwise each judge is a process of its own that starts its own warm parent at once. The pool
keeps every judge busy with a small queue, so memory stays flat in the size of the class.
"""

from __future__ import annotations

import gc
import json
import os
import select
import selectors
import subprocess
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path

from grader.course import Course
from grader.judge.results import SubmissionResult, ungraded_result

__all__ = ["JudgePool", "serve"]

QUEUE_PER_JUDGE = 2


class JudgePool:
    """`jobs` judge processes for one course; `grade(students)` yields results as they finish."""

    def __init__(self, course: Course, jobs: int, *, wait: bool = True, student_run: bool = False,
                 many_workers: bool = True):
        """Start `jobs` judges together, so their warm-ups overlap. With wait=False this returns
        at once and the caller's own start-up overlaps theirs; `ready()` waits for them.

        student_run=True: the child that runs the release's test cells as a student does
        (`self.students`, a `grader.release.student_run.StudentRunner`) is forked, once warm, by
        the warm parent the judges share (as root: it imported torch and matplotlib), else by the
        first judges' process (once torch and the checks are imported there); a release's audit
        then pays torch's start-up once less. many_workers=False: the judges grade a handful of
        notebooks (one question's audit), and the warm parent they share (as root) skips the
        warm-up that pays off only over many workers (see `grader.worker.client.WarmParent`)."""
        from grader.worker.client import launch_warm_parent, warm_parent_config
        from grader.worker.limits import Limits

        self.course = course
        course.secret()  # made once here, before judges that would each try to make it
        # As root, one warm parent for every judge: one warm image to start and to hold in
        # memory. Otherwise each judge starts its own, so that its workers are its descendants:
        # under YAMA's ptrace scope only an ancestor may read a worker's memory from outside.
        self.parent = self._parent_link = None
        self.students, student_ends = self._student_pipes() if student_run else (None, None)
        if os.geteuid() == 0:  # the warm parent, which imported torch and matplotlib, forks the student runs' child
            config = warm_parent_config(Limits(), course_root=course.root, functions=course.spec.vocabulary_path,
                                        many_workers=many_workers, student_run=student_ends)
            self.parent, (self._parent_link, *ends) = launch_warm_parent(config, judges=jobs,
                                                                         pass_fds=student_ends or [])
            student_ends = None
            groups = [ends]  # one process starts every judge
        else:
            groups = [[None] for _ in range(jobs)]  # each judge starts its own warm parent at once
        self.processes, self.judges = [], []
        for group in groups:
            process, judges = self._start(group, student_ends)
            student_ends = None  # one child runs the student runs
            self.processes.append(process)
            self.judges += judges
        self.readers = {judge.id: _Lines(judge.verdicts) for judge in self.judges}
        self._containment: dict | None = None
        if wait:
            self.ready()

    def ready(self) -> dict:
        """Wait until every judge is warm; what isolation their workers get. RuntimeError if one failed."""
        if self._containment is None:
            containment = {}
            for judge in self.judges:
                hello = _hello(self.readers[judge.id].read_one())
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
        if self.students is not None:
            self.students.close()
        for judge in self.judges:
            judge.close()
        for process in self.processes:  # a process that forked judges ends after them
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()  # the judges it forked die with it
                process.wait()
        for judge in self.judges:
            judge.forget()
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

    def grade_notebooks(self, notebooks: Iterable[tuple], questions: Iterable[str] | None = None,
                        ) -> Iterator[SubmissionResult]:
        """Results for (student, notebook path) pairs outside submitted/ (the release audit's cases),
        in completion order; each student id must be unique in the call. `questions`: judge only
        these autograded questions (the others are not in the results); a triple (student, path,
        questions) says it for its own notebook (None: every question)."""
        def request(student, path, *own) -> dict:
            wanted = own[0] if own else questions
            return {"student": student, "notebook": str(path),
                    **({"questions": sorted(wanted)} if wanted is not None else {})}

        return self._run(request(*item) for item in notebooks)

    def _run(self, requests: Iterable[str | dict]) -> Iterator[SubmissionResult]:
        self.ready()
        queue = iter(requests)
        outstanding = {judge.id: [] for judge in self.judges}
        selector = selectors.DefaultSelector()
        for judge in self.judges:
            selector.register(judge.verdicts, selectors.EVENT_READ, (judge, self.readers[judge.id]))
            self._feed(judge, queue, outstanding[judge.id])
        while any(outstanding.values()):
            for key, _ in selector.select():
                judge, lines = key.data
                yield from self._collect(judge, lines, selector, queue, outstanding[judge.id])

    def _collect(self, judge, lines: "_Lines", selector, queue, pending: list) -> Iterator[SubmissionResult]:
        received = lines.read()
        if received is None:
            selector.unregister(judge.verdicts)
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
            judge.send(json.dumps(request) + "\n")

    @staticmethod
    def _student_pipes():
        """The runner of student runs (the pool's ends of its pipes) and the child's ends (job in, outcomes out)."""
        from grader.release.student_run import StudentRunner

        job_r, job_w = os.pipe()
        result_r, result_w = os.pipe()
        return StudentRunner(ends=(job_w, result_r)), [job_r, result_w]

    def _start(self, controls: list, student_ends: list[int] | None = None) -> tuple[subprocess.Popen, list["_Judge"]]:
        """One process that runs a judge per entry of `controls` (its socket to the shared warm
        parent, or None for a judge that starts its own), and with `student_ends` the child of
        student runs."""
        # one thread per judge: parallelism comes from the judges, not from BLAS thread pools
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        judges, pipe_ends, command = [], [], [sys.executable, "-m", "grader.judge.pool", str(self.course.root),
                                              self.course.assignment]
        for control in controls:
            requests_r, requests_w = os.pipe()
            verdicts_r, verdicts_w = os.pipe()
            pipe_ends += [requests_r, verdicts_w]
            ends = [requests_r, verdicts_w] + ([control.fileno()] if control is not None else [])
            command += ["--judge", ",".join(map(str, ends))]
            judges.append(_Judge(len(self.judges) + len(judges), requests_w, verdicts_r))
        if student_ends:
            pipe_ends += student_ends
            command += ["--student-run", ",".join(map(str, student_ends))]
        shared = [control.fileno() for control in controls if control is not None]
        try:  # stdout too: nothing a judge's libraries print may reach the pool's own output
            process = subprocess.Popen(command, env=env, pass_fds=pipe_ends + shared, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL)
        finally:  # the judges' process holds its own copies
            for fd in pipe_ends:
                os.close(fd)
            for control in controls:
                if control is not None:
                    control.close()
        return process, judges


class _Judge:
    """The pool's ends of one judge: its requests pipe (student ids in) and verdicts pipe (JSON lines out)."""

    def __init__(self, id: int, requests: int, verdicts: int):
        self.id, self.verdicts = id, verdicts
        self.requests = os.fdopen(requests, "w", buffering=1)

    def send(self, line: str) -> None:
        self.requests.write(line)
        self.requests.flush()

    def close(self) -> None:
        """No more requests: the judge finishes what it has, then exits."""
        if not self.requests.closed:
            try:
                self.requests.close()
            except OSError:  # a judge that has died: nothing to tell it
                pass

    def forget(self) -> None:
        """Once the judge has exited: let go of its verdicts pipe."""
        if self.verdicts >= 0:
            os.close(self.verdicts)
            self.verdicts = -1


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


def serve(course_root: str, assignment: str, judges: list[tuple[int, ...]],
          student_run: tuple[int, int] | None = None) -> None:
    """The judges' process: each (IN, OUT[, CONTROL]) in `judges` is a judge that grades each
    student id read from IN and writes one JSON line per verdict on OUT.

    One judge is served here. Several (which share a warm parent, each with a CONTROL socket
    to it) have their start-up paid once here, torch, the checks and their first calls, and
    are each forked from this process, which waits for them: a judge that dies takes no
    other judge with it. With `student_run` (JOB, OUTCOMES) the child that runs the release's
    test cells as a student does is forked from here too, once torch is imported, and ends
    with the judges.
    """
    from grader.judge.grader import prepare_judge
    from grader.release.student_run import end_runner, fork_runner

    sys.stdout = sys.stderr  # nothing but verdicts goes to the pool
    course = Course.at(course_root, assignment)
    student = None
    if student_run is not None:
        prepare_judge(course.spec)
        student = fork_runner(student_run, [fd for judge in judges for fd in judge])
    try:
        _serve_judges(course, judges)
    finally:
        if student is not None:
            end_runner(student)


def _serve_judges(course: Course, judges: list[tuple[int, ...]]) -> None:
    from grader.judge.grader import prepare_judge

    if len(judges) == 1:
        _serve_one(course, *judges[0])
        return
    prepare_judge(course.spec)  # and frozen: the forked judges share these pages, their collections skip them
    forked = []
    for number, mine in enumerate(judges):
        pid = os.fork()
        if pid == 0:  # the ends of the judges forked before it are closed here already
            _serve_forked(course, mine, [fd for other in judges[number + 1:] for fd in other])
        forked.append(pid)
        for fd in mine:
            os.close(fd)
    for pid in forked:
        os.waitpid(pid, 0)


def _serve_forked(course: Course, mine: tuple[int, ...], others: list[int]) -> None:
    """In a forked judge: only its own pipes; it dies with the process that forked it (which the
    pool kills if the judges do not end when asked); never returns."""
    _child_life(others, lambda: _serve_one(course, *mine))


def _child_life(others, serve) -> None:
    """A forked child of the pool: it closes the pipes that are not its own, dies with the process
    that forked it, runs `serve` and exits; what it raised is said on stderr, and the pool sees
    the child's pipe close. Never returns."""
    from grader.worker.isolation import set_parent_death_signal

    code = 1
    try:
        for fd in others:
            os.close(fd)
        set_parent_death_signal()
        serve()
        code = 0
    except BaseException:  # noqa: B036 -- said on stderr
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _serve_one(course: Course, requests_fd: int, verdicts_fd: int, control_fd: int | None = None) -> None:
    """One judge: grade each request read from requests_fd, one JSON line per verdict on verdicts_fd.

    A verdict is written only once its workers are confirmed dead; that confirmation is
    deferred until the next submission has started, so the kernel's teardown of one job
    overlaps the next.
    """
    from grader.judge.grader import Grader

    requests = os.fdopen(requests_fd, "r")
    results = os.fdopen(verdicts_fd, "w", buffering=1)
    held: list[SubmissionResult] = []
    import socket

    control = socket.socket(fileno=control_fd) if control_fd is not None else None
    with Grader(course, control=control) as grader:
        gc.freeze()  # later collections skip torch's and nbgrader's long-lived objects
        results.write(json.dumps({"ready": True, "containment": grader.containment}) + "\n")
        while True:
            if held and not _input_waiting(requests):
                _release(grader, held, results, keep=0)
            line = requests.readline()
            if not line:
                break
            held.append(_grade(grader, json.loads(line)))
            _release(grader, held, results, keep=1)
        _release(grader, held, results, keep=0)


def _grade(grader, request: str | dict) -> SubmissionResult:
    """A student id grades submitted/<id>/; {"student", "notebook"[, "questions"]} grades that notebook file."""
    if isinstance(request, dict):
        return grader.grade_notebook(Path(request["notebook"]), request["student"], only=request.get("questions"))
    return grader.grade_student(request, settle=False)


def _release(grader, held: list, results, keep: int) -> None:
    grader.settle(keep_last=keep)
    while len(held) > keep:
        results.write(json.dumps(held.pop(0).to_dict()) + "\n")


def _input_waiting(requests) -> bool:
    return bool(select.select([requests], [], [], 0)[0])


def _judge_fds(text: str) -> tuple[int, ...]:
    return tuple(int(fd) for fd in text.split(","))


if __name__ == "__main__":
    import argparse

    from grader.ipynb import without_iri_format_checker

    without_iri_format_checker()  # a judge that upgrades an old notebook loads nbformat
    parser = argparse.ArgumentParser(description="judge processes of a JudgePool")
    parser.add_argument("course_root")
    parser.add_argument("assignment")
    parser.add_argument("--judge", type=_judge_fds, action="append", required=True, metavar="IN,OUT[,CONTROL]")
    parser.add_argument("--student-run", type=_judge_fds, metavar="JOB,OUTCOMES")
    arguments = parser.parse_args()
    serve(arguments.course_root, arguments.assignment, arguments.judge, arguments.student_run)
    # Every verdict is written and every judge has ended; an orderly interpreter exit would
    # only spend a few tenths of a second tearing down torch's state while the pool waits.
    sys.stderr.flush()
    os._exit(0)
