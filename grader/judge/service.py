"""`grader serve`: one warm judge that grades notebooks on request over a Unix socket, and its client."""

from __future__ import annotations

import importlib
import os
import re
import signal
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from grader.course import Course, CourseError
from grader.intake.text import first_line, printable
from grader.judge.results import SubmissionResult
from grader.worker.channel import MAX_FRAME, FrameError, recv_frame_blocking, send_frame

__all__ = ["socket_path", "ask_server", "serve", "fingerprint"]

STATE_DIR = ".grader"
MAX_REQUEST = 64 * 1024
REQUEST_SECONDS = 10.0  # a request arrives at once; a client that sends nothing must not hold up the queue


def socket_path(course: Course) -> Path:
    """Where the server of this course's assignment listens."""
    return course.root / STATE_DIR / f"serve-{course.assignment}.sock"


# ------------------------------------------------------------------ client
def ask_server(course: Course, notebook: Path, student: str) -> SubmissionResult | None:
    """The running server's verdict on `notebook`, or None when none answers (then grade cold).

    A server that replies with an error says so in one stderr line; any other failure is silent.
    """
    path = socket_path(course)
    if not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, _address(path) as address:
            sock.connect(address)
            send_frame(sock, {"notebook": str(Path(notebook).resolve()), "student": student}, MAX_REQUEST)
            reply, fds = recv_frame_blocking(sock, MAX_FRAME)
        for fd in fds:
            os.close(fd)
        if isinstance(reply, dict) and "error" in reply:
            print(f"grader grade: the server replied: {printable(str(reply['error']))}; grading here",
                  file=sys.stderr)
            return None
        return SubmissionResult.from_dict(reply["result"])
    except (OSError, FrameError, KeyError, TypeError, ValueError):
        return None


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, _address(path) as address:
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


@contextmanager
def _address(path: Path):
    """`path` as bind and connect take it: a course deep in a home folder can make it longer than
    AF_UNIX's 108 bytes, so then it goes through a descriptor of its folder."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


# ------------------------------------------------------------------ server
def fingerprint(course: Course) -> tuple:
    """Every file of source/<assignment>/ (but __pycache__) and the release notebook: path, size, mtime."""
    paths = []
    for folder, dirs, files in os.walk(course.root / "source" / course.assignment):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        paths += [Path(folder) / name for name in sorted(files)]
    paths.append(course.release_notebook())
    marks = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            marks.append((str(path), None, None))
        else:
            marks.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(marks)


class _WarmJudge:
    """A Grader for the assignment as its files are now: rebuilt when they change."""

    def __init__(self, course: Course) -> None:
        self.root, self.assignment = course.root, course.assignment
        self.grader = None
        self.marks = None

    def current(self):
        marks = fingerprint(Course.at(self.root, self.assignment))
        if self.grader is not None and marks == self.marks:
            return self.grader
        reloading = self.grader is not None or self.marks is not None
        self.close()
        _forget_modules(self.assignment)
        from grader.judge.grader import Grader

        self.grader = Grader(Course.at(self.root, self.assignment))
        self.marks = marks  # taken before the build: an edit made meanwhile reloads next time
        if reloading:
            _log(f"source/{self.assignment}/ or its release changed: reloaded the checks")
        return self.grader

    def close(self) -> None:
        grader, self.grader = self.grader, None
        if grader is not None:
            grader.close()


def _forget_modules(assignment: str) -> None:
    """Drop the assignment's imported checks, so the next Grader imports them from the files."""
    prefix = "_assignment_" + re.sub(r"\W", "_", assignment) + "_"  # Assignment.package's names
    for name in [n for n in sys.modules if n.startswith(prefix)]:
        del sys.modules[name]
    importlib.invalidate_caches()  # a check file added since the last import is found


def serve(course: Course) -> int:
    """Grade requests one at a time until SIGINT or SIGTERM; the socket and every worker go with it."""
    path = socket_path(course)
    listener = _listen(path)
    bound = path.stat().st_ino
    judge = _WarmJudge(course)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _warm_up(judge.current(), course)
        _log(f"grading {course.assignment} on {path.relative_to(course.root)}; Ctrl-C to stop")
        while True:
            conn, _ = listener.accept()
            with conn:
                _handle(conn, judge)
    except KeyboardInterrupt:
        return 0
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        listener.close()
        if path.exists() and path.stat().st_ino == bound:
            path.unlink()
        judge.close()
        _log("stopped")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _warm_up(grader, course: Course) -> None:
    """Grade the release once, so the first request finds the warm parent ready and a spare worker forked."""
    if course.release_notebook().is_file():
        grader.grade_notebook(course.release_notebook(), "warm-up")
    else:
        grader.parent.wait_ready()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _listen(path: Path) -> socket.socket:
    """Bind the course owner's socket (0600 in a 0700 folder); a live server's socket is left alone."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if path.exists() or path.is_symlink():
        if _answers(path):
            raise CourseError(f"another grader serve answers on {path}; stop it first")
        path.unlink()  # stale: its server died without removing it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)
    try:
        with _address(path) as address:
            listener.bind(address)
    finally:
        os.umask(umask)
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


def _handle(conn: socket.socket, judge: _WarmJudge) -> None:
    """One request: a malformed one, or a client gone midway, costs only its own reply."""
    conn.settimeout(REQUEST_SECONDS)
    try:
        request, fds = recv_frame_blocking(conn, MAX_REQUEST)
        for fd in fds:
            os.close(fd)
        notebook, student = _parsed(request)
    except (OSError, FrameError, ValueError) as exc:
        _reply(conn, {"error": f"bad request: {printable(str(exc))}"})
        return
    conn.settimeout(None)
    started = time.monotonic()
    graded = printable(f"{student}: {notebook.name}")  # `grader grade`'s student is `student` unless named
    try:
        result = judge.current().grade_notebook(notebook, student)
    except Exception as exc:  # the assignment's files do not load: the client grades cold and says why
        _log(f"{graded}: error: {_one_line(exc)}")
        _reply(conn, {"error": _one_line(exc)})
        return
    _reply(conn, {"result": {k: v for k, v in result.to_dict().items() if k != "cells"}})
    _log(f"{graded}: {result.score:g}/{result.max_score:g} ({printable(result.status)}) "
         f"in {time.monotonic() - started:.2f} s")


def _parsed(request) -> tuple[Path, str]:
    if not isinstance(request, dict) or not isinstance(request.get("notebook"), str) \
            or not isinstance(request.get("student"), str):
        raise ValueError('expected {"notebook": "<absolute path>", "student": "<id>"}')
    notebook = Path(request["notebook"])
    if not notebook.is_absolute():
        raise ValueError("the notebook path must be absolute")
    return notebook, request["student"]


def _reply(conn: socket.socket, reply: dict) -> None:
    try:
        send_frame(conn, reply)
    except (OSError, FrameError):
        pass  # the client left (it grades cold) or the reply is too large for a frame


def _one_line(exc: BaseException) -> str:
    line = first_line(exc)
    return f"{type(exc).__name__}: {line[:400]}" if str(exc).strip() else line


def _log(line: str) -> None:
    print(f"grader serve: {line}", file=sys.stderr, flush=True)
