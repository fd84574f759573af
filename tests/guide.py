"""docs/authoring.md followed literally in a course directory, block by block (for the tests that build on it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
DOC = KIT_ROOT / "docs" / "authoring.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def grader(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`grader ARGS` in the course at `root`, with this interpreter's scripts (alembic) on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=root, capture_output=True, text=True,
                          env=env, timeout=timeout)


def empty_course(root: Path) -> Path:
    """A course directory with the kit's nbgrader_config.py and nothing else."""
    root.mkdir(parents=True)
    shutil.copy(KIT_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def follow_guide(root: Path, doc: Path = DOC) -> list[tuple[str, str]]:
    """Run every block of the guide in `root`; (command, stdout) of each console command.

    A `console` block's `$` lines are commands, a `python file=PATH` block is a file's whole
    content and a `python run` block a script; a command or script that fails raises
    AssertionError with its output.
    """
    outputs = []
    for kind, info, body in BLOCK.findall(doc.read_text()):
        info = info.strip()
        if kind == "console":
            for command in [ln[2:] for ln in body.splitlines() if ln.startswith("$ ")]:
                done = grader(root, *command.split()[1:])
                assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
                outputs.append((command, done.stdout))
        elif kind == "python" and info.startswith("file="):
            path = root / info[len("file="):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        elif kind == "python" and info == "run":
            done = subprocess.run([sys.executable, "-c", body], cwd=root, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
    return outputs
