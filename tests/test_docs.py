"""The guides' commands, run as written: the TA's course cycle (docs/grading.md) and a TLS Dask
cluster (docs/scale.md). docs/authoring.md has tests/test_authoring.py; docs/performance.md,
tests/test_bench.py."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from sample import AUTOGRADED_POINTS, question, solved, with_answers, write_submission

KIT_ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```console([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
WRONG_GRAD_AT = "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"

pytestmark = pytest.mark.slow(90)


def console_blocks(doc: str) -> list[tuple[str, list[str]]]:
    """(who runs it: "", "student" or "background"; its `$` lines) for each console block of docs/<doc>."""
    text = (KIT_ROOT / "docs" / doc).read_text()
    return [(info.strip(), [line[2:] for line in body.splitlines() if line.startswith("$ ")])
            for info, body in BLOCK.findall(text)]


class Guide:
    """Runs a guide's blocks in a course: in the course folder, in each student's folder, or in the background."""

    def __init__(self, root: Path, env: dict[str, str], students: dict[str, Path] | None = None,
                 before_submit=None) -> None:
        self.root, self.env, self.students = root, env, students or {}
        self.before_submit = before_submit
        self.background: list[tuple[str, subprocess.Popen]] = []
        self.outputs: dict[str, str] = {}

    def run(self, doc: str) -> None:
        try:
            for who, commands in console_blocks(doc):
                for command in commands:
                    self._run(who, command)
        finally:
            self.stop()

    def _run(self, who: str, command: str) -> None:
        if who == "background":
            process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.root, env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.background.append((command, process))
            _ready(command, process, self.root, self.env)
        elif who == "student":
            for student, home in self.students.items():
                if command.startswith("nbgrader submit") and self.before_submit:
                    self.before_submit(student, home)
                self.outputs[f"{student}: {command}"] = _shell(command, home, self.env)
        else:
            self.outputs[command] = _shell(command, self.root, self.env)

    def stop(self) -> None:
        """Ctrl-C to every background command, as a person stops it."""
        for command, process in reversed(self.background):
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise AssertionError(f"{command} did not stop on Ctrl-C") from None
        self.background.clear()


def _shell(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _ready(command: str, process: subprocess.Popen, root: Path, env: dict[str, str]) -> None:
    """Wait until a background command serves: its socket or port answers (a dask worker joins on its own)."""
    if command.startswith("grader serve"):
        assignment = command.split()[2]
        ready = lambda: (root / ".grader" / f"serve-{assignment}.sock").exists()  # noqa: E731
    elif command.startswith("dask scheduler"):
        ready = lambda: _port_open(int(env["SCHEDULER_PORT"]))  # noqa: E731
    else:
        return
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, f"{command} exited: {process.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, f"{command} did not start serving"
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(**extra: str) -> dict[str, str]:
    """A shell with the kit's venv first on PATH, as the guides ask."""
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            **extra}


def _student_folder(home: Path, student: str, exchange: Path) -> Path:
    """A student's own folder, configured as a hub gives each user their own name and cache."""
    home.mkdir(parents=True)
    (home / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.student_id = {student!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.Exchange.cache = {str(home / '.cache')!r}\n")
    return home


def test_the_tas_guide_runs_as_written(course, release_nb, tmp_path):
    """Does docs/grading.md, block by block, take two students from release to fetched feedback, with
    grades, a served grade and a report that agree?"""
    exchange = tmp_path / "exchange"
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text().replace('"/usr/local/share/nbgrader/exchange"', repr(str(exchange))))
    students = {name: _student_folder(tmp_path / "home" / name, name, exchange) for name in ("alice", "bob")}
    answers = {"alice": solved(release_nb), "bob": with_answers(solved(release_nb), {"grad_at": WRONG_GRAD_AT})}

    def work(student: str, home: Path) -> None:
        nbformat.write(answers[student], home / "derivatives" / "derivatives.ipynb")

    guide = Guide(course.root, _environment(), students, before_submit=work)
    guide.run("grading.md")

    graded = json.loads(guide.outputs["grader grade submitted/alice/derivatives/derivatives.ipynb --json"])
    assert graded["score"] == graded["max_score"] == AUTOGRADED_POINTS
    assert "grad_at" in guide.outputs["grader grade submitted/bob/derivatives/derivatives.ipynb"]
    rows = {row["student"]: row for row in csv.DictReader(open(course.root / "exports" / "derivatives" / "grades.csv"))}
    expected = {"alice": AUTOGRADED_POINTS, "bob": AUTOGRADED_POINTS - question("grad_at").points}
    assert {s: float(row["autograded"]) for s, row in rows.items()} == expected
    for student, home in students.items():
        [page] = (home / "derivatives" / "feedback").glob("*/derivatives.html")
        assert f"Total: {expected[student]:g}" in page.read_text()
    assert (course.root / "reports" / "derivatives" / "report.html").is_file()


def test_the_cluster_recipe_runs_as_written(course, release_nb, tmp_path):
    """Does docs/scale.md's recipe (certificates, a TLS scheduler, a grading machine, autograde
    --cluster) grade a class, on one machine, as the local run does?"""
    write_submission(course.root, "alice", solved(release_nb))
    write_submission(course.root, "bob", with_answers(solved(release_nb), {"grad_at": WRONG_GRAD_AT}))
    env = _environment(SCHEDULER_HOST="127.0.0.1", SCHEDULER_PORT=str(_free_port()), WORKER_HOSTS="localhost",
                       CERTS=str(course.root / "cluster-certs"))
    Guide(course.root, env).run("scale.md")

    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        scores = {s: gb.find_submission(course.assignment, s).score for s in ("alice", "bob")}
    assert scores == {"alice": AUTOGRADED_POINTS, "bob": AUTOGRADED_POINTS - question("grad_at").points}
