"""A release notebook's own test cells, run as a student runs them (kernel-less, beside the release's
checks): what a question's test cell shows before the notebook is handed in."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import linecache
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StudentRun", "StudentRunner", "visible_outcomes", "fork_runner", "end_runner", "RESULT_PREFIX"]

RESULT_PREFIX = "GRADER-STUDENT-RUN "
RUN_TIMEOUT = 600
_CELL_NUMBERS = itertools.count()


@dataclass(frozen=True)
class StudentRun:
    """One answer to a question, run in place of the notebook's own answer cell."""

    name: str
    question: str
    answer: str  # the answer cell's source


class StudentRunner:
    """One child process that imports what test cells need as soon as it starts, then runs the
    answers it is given, as a student runs them: started early, its start-up overlaps the caller's.

    With `ends` (the write end of its job pipe, the read end of its result pipe) the child is one
    that another process forked with torch already imported (see `serve_forked` and
    `grader.judge.pool.JudgePool`): one torch start-up fewer for the machine to pay."""

    def __init__(self, ends: tuple[int, int] | None = None) -> None:
        self._job: str | None = None
        self.child = None
        if ends is None:
            self.child = subprocess.Popen([sys.executable, "-m", "grader.release.student_run"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          env={**os.environ, "MPLBACKEND": "Agg"})
            ends = (os.dup(self.child.stdin.fileno()), os.dup(self.child.stdout.fileno()))
            self.child.stdin.close()
            self.child.stdout.close()
        self._send, self._results = ends

    def __enter__(self) -> "StudentRunner":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self, release_folder: Path, notebook, runs: list[StudentRun], timeout: float = RUN_TIMEOUT):
        """Start running, for each answer, the notebook's code cells from the top with the answer in its
        question's answer cell, then that question's test cell, with the release folder as working
        directory and first import path (so the test cells use the release's own checks package); a
        callable waits for and returns {name: None when the test cell passed, else the first line it
        shows}.

        `notebook` is the release with answers in every answer cell (the cells above a question's
        answer cell run once per question, as a fresh kernel runs them)."""
        handle, self._job = tempfile.mkstemp(prefix="student-run-", suffix=".json")  # mode 0600: bank answers
        with os.fdopen(handle, "w") as job:
            json.dump({"folder": str(Path(release_folder).resolve()),
                       "questions": _questions(notebook, {run.question for run in runs}),
                       "runs": [vars(run) for run in runs]}, job)
        try:
            os.write(self._send, (self._job + "\n").encode())
        except OSError:  # the child has gone: reading its results says so
            pass
        self._send = _closed(self._send)  # one job per child

        def outcomes() -> dict[str, str | None]:
            try:
                output = _read_all(self._results, timeout)
            except TimeoutError:
                self.close()
                raise RuntimeError(f"the release's test cells did not finish within {timeout:.0f} s") from None
            finally:
                Path(self._job).unlink(missing_ok=True)
            lines = [line for line in output.decode(errors="replace").splitlines() if line.startswith(RESULT_PREFIX)]
            if not lines:
                status = self.child.wait() if self.child is not None else "unknown"
                raise RuntimeError(f"the run of the release's test cells stopped (exit status {status})")
            return json.loads(lines[-1][len(RESULT_PREFIX):])

        return outcomes

    def close(self) -> None:
        """Stop the child if it still runs (a forked one ends with the process that forked it), and remove its job."""
        self._send, self._results = _closed(self._send), _closed(self._results)
        if self.child is not None:
            if self.child.poll() is None:
                self.child.kill()
            self.child.wait()
        if self._job:
            Path(self._job).unlink(missing_ok=True)


def _closed(fd: int) -> int:
    if fd >= 0:
        os.close(fd)
    return -1


def _read_all(fd: int, timeout: float) -> bytes:
    """Everything written on the pipe until its writer closes it; TimeoutError past `timeout` seconds."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def visible_outcomes(release_folder: Path, notebook, runs: list[StudentRun], timeout: float = RUN_TIMEOUT):
    """`StudentRunner().start(...)` in one call: {name: what its test cell showed, None if it passed}."""
    with StudentRunner() as runner:
        return runner.start(release_folder, notebook, runs, timeout)()


def _questions(notebook, questions: set[str]) -> dict[str, dict]:
    """Per question: the code cells above its answer cell (test cells only print), and its test cell."""
    found: dict[str, dict] = {}
    above: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or ""
        if grade_id.startswith("test_"):
            if grade_id.removeprefix("test_") in found:
                found[grade_id.removeprefix("test_")]["test"] = cell.source
            continue
        if grade_id in questions:
            found[grade_id] = {"above": list(above)}
        above.append(cell.source)
    missing = sorted(q for q in questions if "test" not in found.get(q, {}))
    if missing:
        raise ValueError(f"the notebook has no answer cell followed by a test cell for {', '.join(missing)}")
    return found


def _run_all(folder: str, questions: dict[str, dict], runs: list[dict]) -> dict[str, str | None]:
    """In the child: each answer in a namespace that ran its question's cells above it."""
    import matplotlib.pyplot as plt
    import torch

    os.chdir(folder)
    sys.path.insert(0, folder)
    # As in a kernel, __main__ is no file: inspect finds a class's source through its methods' cells.
    sys.modules["__main__"] = types.ModuleType("__main__")
    above: dict[str, dict] = {}
    outcomes = {}
    for run in runs:
        question = questions[run["question"]]
        if run["question"] not in above:
            above[run["question"]] = namespace = {"__name__": "__main__"}
            for source in question["above"]:
                _run_cell(source, namespace)
        namespace = dict(above[run["question"]])
        _run_cell(run["answer"], namespace)
        outcomes[run["name"]] = _run_cell(question["test"], namespace)
        plt.close("all")
        torch.set_grad_enabled(True)  # a cell may switch it off for the cells after it, not for the next run
    return outcomes


def _run_cell(source: str, namespace: dict) -> str | None:
    """None when the cell ran through; else the first line it shows (a failure's headline)."""
    filename = f"<cell-{next(_CELL_NUMBERS)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # as IPython keeps cells
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile(source, filename, "exec"), namespace)
        except BaseException as exc:  # noqa: B036 -- a cell may raise anything, exits included
            lines = (exc._render_traceback_() if hasattr(exc, "_render_traceback_") else None) or [
                f"{type(exc).__name__}: {exc}"]
            return str(lines[0]) or type(exc).__name__
    return None


def fork_runner(ends: tuple[int, int], others: list[int]) -> int:
    """Fork the child of student runs from this process (one that imported torch: a judges'
    process, or the warm parent, which imported matplotlib too); `ends` (JOB, OUTCOMES) are its
    pipes, which this process closes; in the child only they stay open of `ends` and `others`,
    and it dies with this process. Returns the child's pid."""
    from grader.worker.isolation import set_parent_death_signal

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for fd in others:
                os.close(fd)
            set_parent_death_signal()
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # as the runner started on its own: the cells' noise goes nowhere
            serve_forked(*ends)
            code = 0
        finally:
            os._exit(code)
    for fd in ends:
        os.close(fd)
    return pid


def end_runner(pid: int) -> None:
    """Its forking process is done: a child of student runs still running has no one left to read it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # reaped already, by a wait for any child
        os.waitpid(pid, 0)


def serve_forked(job_fd: int, result_fd: int) -> None:
    """In a child forked from a process that imported torch already (a JudgePool's judges'
    process): read one job's path on `job_fd`, run it, write the outcomes on `result_fd`."""
    os.environ["MPLBACKEND"] = "Agg"  # as the child started on its own gets it
    import matplotlib

    matplotlib.use("Agg")
    _serve(job_fd, result_fd)


def _serve(job_fd: int, result_fd: int) -> None:
    import matplotlib.pyplot  # noqa: F401 -- what every test cell needs, imported while the job is made
    import torch  # noqa: F401

    with os.fdopen(job_fd, "r", closefd=False) as jobs:
        path = jobs.readline().strip()
    if path:
        job = json.loads(Path(path).read_text())
        result = _run_all(job["folder"], job["questions"], job["runs"])
        os.write(result_fd, (RESULT_PREFIX + json.dumps(result) + "\n").encode())


if __name__ == "__main__":
    _serve(sys.stdin.fileno(), sys.__stdout__.fileno())
