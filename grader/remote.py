"""The judge's side of a worker: run cells with restarts, and a Subject whose probes cross to it."""

from __future__ import annotations

import ast

from .results import CellOutcome
from .subject import ProbeFailed, ProbeSubject
from .tamper import python_source

__all__ = ["WorkerSession", "WorkerSubject", "definition_source"]

CELL_TIMEOUT = 10.0
PROBE_TIMEOUT = 10.0
MAX_STARTS = 12


class WorkerSession:
    """One submission's worker: cells run in order; a cell that kills or hangs it is skipped on replay."""

    def __init__(self, parent, *, cell_timeout: float = CELL_TIMEOUT, probe_timeout: float = PROBE_TIMEOUT):
        self.parent = parent
        self.cell_timeout, self.probe_timeout = cell_timeout, probe_timeout
        self.worker = None
        self.starts = 0
        self.ran: list = []  # cells that completed, replayed after a restart
        self.events: list[str] = []
        self.sources: list[str] = []

    def __enter__(self) -> "WorkerSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Kill the worker's whole tree; returns once it is dead."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def run_cells(self, cells: list) -> dict[int, CellOutcome]:
        """Run every cell in order; a fatal cell is recorded and later cells still run."""
        self.sources = [python_source(c.source) for c in cells]
        outcomes = {}
        for cell in cells:
            outcomes[cell.index] = self._run_one(cell)
        return outcomes

    def ensure_alive(self) -> None:
        """Restart and replay the cells that ran, if the last probe killed the worker."""
        if self.worker is None or not self.worker.alive:
            self._restart()

    def subject(self) -> "WorkerSubject":
        return WorkerSubject(self)

    def probe(self, request: dict) -> dict:
        """Send one probe; a worker that dies, hangs or garbles its reply raises ProbeFailed."""
        if self.worker is None or not self.worker.alive:
            raise ProbeFailed("error", "the worker is not running (an earlier call killed it)")
        try:
            return self.worker.probe(request, timeout=self.probe_timeout)
        except ProbeFailed as failure:
            self._note_failure(f"during a check: {failure.message}")
            self.close()
            raise

    def evidence(self) -> list[str]:
        return list(dict.fromkeys(self.events))

    def source_of(self, name: str) -> str | None:
        return definition_source(self.sources, name)

    def _run_one(self, cell) -> CellOutcome:
        outcome = CellOutcome(cell.index, cell.cell_type, cell.source, cell.grade_id)
        if not self._ready():
            outcome.status, outcome.error = "skipped", "not run: the worker was restarted too often"
            return outcome
        report = self.worker.run_cell(cell.index, cell.source, timeout=self.cell_timeout)
        outcome.status, outcome.output, outcome.error = report.status, report.output, report.error
        self.events.extend(f"cell {cell.index}: {event}" for event in report.events)
        if report.status in ("died", "timeout"):
            self._note_failure(f"cell {cell.index} {_said(report)}; it was skipped and later cells still ran")
            self.close()
        else:
            self.ran.append(cell)
        return outcome

    def _ready(self) -> bool:
        if self.worker is not None and self.worker.alive:
            return True
        if self.starts >= MAX_STARTS:
            return False
        self._restart()
        return self.worker is not None

    def _restart(self) -> None:
        self.close()
        if self.starts >= MAX_STARTS:
            raise ProbeFailed("error", "the worker was restarted too often")
        self.starts += 1
        self.worker = self.parent.start_worker()
        for cell in self.ran:
            self.worker.run_cell(cell.index, cell.source, timeout=self.cell_timeout)

    def _note_failure(self, text: str) -> None:
        self.events.append(text)


class WorkerSubject(ProbeSubject):
    """The Subject the checks use in trusted grading: every probe crosses to the worker as data."""

    def __init__(self, session: WorkerSession):
        self.session = session

    def exchange(self, request: dict) -> dict:
        return self.session.probe(request)

    def source_of(self, name: str) -> str | None:
        return self.session.source_of(name)


def definition_source(sources: list[str], name: str) -> str | None:
    """Source text of the last top-level def, class or assignment of `name` across the cells."""
    found = None
    for text in sources:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if _defines(node, name):
                found = ast.get_source_segment(text, node) or found
    return found


def _defines(node: ast.AST, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _said(report) -> str:
    if report.status == "timeout":
        return "ran past its time limit"
    return f"killed its worker ({report.error or 'died'})"
