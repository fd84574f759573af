"""`grader serve`: `grader grade` through a warm judge gives the cold path's verdict, and the server survives its clients."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

import nbformat
import psutil
import pytest
from sample import with_answers

from grader.course import Course, CourseError
from grader.judge.service import _address, _listen, socket_path

RELATIVE = b'{"notebook": "derivatives.ipynb", "student": "x"}'
WRONG_GRAD_AT = {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(0.0)\n"}


class Server:
    """A `grader serve` subprocess in a session of its own, its stderr read line by line."""

    def __init__(self, root) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "grader", "--course", str(root), "serve", "derivatives"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        """The next log line containing `text` (earlier lines are kept in self.log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.log.append(line)
            if text in line:
                return line
        raise AssertionError(f"the server never logged {text!r}; it logged {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


def grade(root, notebook, student: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "--course", str(root), "grade", str(notebook), "--json",
                           "--student", student], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def served(released_course, solved_nb, tmp_path_factory):
    """A course copy, a notebook with one wrong answer graded cold there, then one server for the module's tests."""
    root = tmp_path_factory.mktemp("served") / "course"
    shutil.copytree(released_course.root, root)
    notebook = root.parent / "derivatives.ipynb"
    nbformat.write(with_answers(solved_nb, WRONG_GRAD_AT), notebook)
    cold = grade(root, notebook, "alice")
    assert cold.returncode == 0, cold.stderr
    server = Server(root)
    try:
        server.wait_for("Ctrl-C to stop")
        yield root, notebook, json.loads(cold.stdout), server
    finally:
        server.stop()


@pytest.mark.slow
def test_grade_through_the_server_prints_the_cold_json(served):
    """Does `grader grade --json` answered by the server print exactly what the cold judge printed, and did the server grade it?"""
    root, notebook, cold, server = served
    warm = grade(root, notebook, "alice")
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout) == cold
    assert "alice: " in server.wait_for("alice")
    assert warm.stderr == ""


@pytest.mark.slow
def test_a_second_server_on_the_same_assignment_is_refused(served):
    """Does `grader serve` refuse, in one line, to start beside a server that answers?"""
    root, _, _, _ = served
    done = subprocess.run([sys.executable, "-m", "grader", "--course", str(root), "serve", "derivatives"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "another grader serve answers" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("request_bytes", [b"garbage\n", struct.pack(">I", 5) + b"{bad}",
                                           struct.pack(">I", 2) + b"[]", struct.pack(">I", 10**9),
                                           struct.pack(">I", len(RELATIVE)) + RELATIVE],
                         ids=["not-a-frame", "bad-json", "not-an-object", "oversized", "relative-path"])
def test_a_garbage_request_gets_an_error_and_the_server_keeps_serving(served, request_bytes):
    """Does a malformed request get an error reply, and the next notebook still get graded?"""
    root, notebook, cold, server = served
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(root / ".grader" / "serve-derivatives.sock"))
        sock.sendall(request_bytes)
        reply = sock.recv(65536)
    (size,) = struct.unpack(">I", reply[:4])
    assert "bad request" in json.loads(reply[4 : 4 + size])["error"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(root / ".grader" / "serve-derivatives.sock"))  # and hangs up without a word
    after = grade(root, notebook, "alice")
    assert json.loads(after.stdout) == cold
    server.wait_for("alice: ")


@pytest.mark.slow
def test_an_edited_check_reloads_before_the_next_request(served):
    """After the instructor edits a check, does the next request log a reload and still grade right?"""
    root, notebook, cold, server = served
    with open(root / "source" / "derivatives" / "checks" / "grad_at.py", "a") as check:
        check.write("\n# clarified after the first questions in class\n")
    after = grade(root, notebook, "bob")
    assert after.returncode == 0, after.stderr
    assert "reloaded" in server.wait_for("reloaded")
    assert "bob: " in server.wait_for("bob")
    assert json.loads(after.stdout)["score"] == cold["score"]


@pytest.mark.slow
def test_sigterm_removes_the_socket_and_every_process(served):
    """After SIGTERM, is the socket gone and no process of the server's left (warm parent, workers)?"""
    root, notebook, _, server = served
    path = root / ".grader" / "serve-derivatives.sock"
    descendants = psutil.Process(server.process.pid).children(recursive=True)
    assert descendants, "the server runs no warm parent"
    server.stop()
    assert server.process.returncode == 0, server.log
    assert not path.exists()
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == []
    assert [p.pid for p in psutil.process_iter() if _group_of(p) == server.process.pid] == []
    cold = grade(root, notebook, "carol")  # and `grader grade` quietly grades cold again
    assert cold.returncode == 0 and cold.stderr == "", cold.stderr


def _group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


@pytest.mark.parametrize("depth", [1, 12], ids=["short-path", "longer-than-af-unix-allows"])
def test_a_stale_socket_is_replaced_by_a_private_one(tmp_path, depth):
    """Does the server remove a dead server's socket, and bind its own 0600 in a 0700 folder, however deep the course?"""
    root = tmp_path.joinpath(*["course"] * depth)
    path = socket_path(Course(root=root, assignment="derivatives", notebook="derivatives"))
    path.parent.mkdir(mode=0o755, parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead, _address(path) as address:
        dead.bind(address)  # bound, never listening, then closed: what a killed server leaves
    listener = _listen(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with pytest.raises(CourseError, match="another grader serve answers"):
            _listen(path)
    finally:
        listener.close()
