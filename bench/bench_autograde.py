"""Throughput of the kit's autograde against stock nbgrader and against a warm in-process floor.

Everything is measured in one run on one machine, so the printed ratios compare like with like.
The last line is stable: `ratio_vs_nbgrader=<x> ratio_to_floor=<y> per_submission_s=<z> peak_rss_mb=<m>`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from grader.course import Course
from grader.demo.run import kit_course_root, prepare_course
from grader.judge.batch import autograde, default_jobs

__all__ = ["main"]

FLOOR_PASSES = 3  # before the class and again after it
SAMPLE_PASSES = 3


class PeakMemory:
    """Samples the memory of this process and all its descendants.

    Each process counts its proportional set size (PSS): pages shared by forked workers and
    their warm parent are split between them instead of being counted once per process.
    Reading PSS walks a process's page tables (about 5 ms for a warm parent, under its memory
    lock), so samples are a second apart: memory is flat once the judges are busy, and closer
    sampling slowed the run it measured by a tenth.
    """

    def __init__(self, interval: float = 1.0):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(me))
            time.sleep(self.interval)


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error, OSError, ValueError):
            total += _pss_bytes(p.pid)
    return total


def _pss_bytes(pid: int) -> int:
    """PSS from the kernel's own summary (smaps_rollup), cheap enough to sample often."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def make_course(folder: Path, students: int) -> Course:
    from grader.demo.simulate import simulate_class
    from grader.release.generate import generate_release

    course = prepare_course(folder, kit_course_root())
    generate_release(course)
    simulate_class(course, students, seed=1)
    return course


def copy_sample(course: Course, folder: Path, students: list[str]) -> Course:
    """A second course with the same release and only `students`' submissions."""
    from grader.release.generate import generate_release

    sample = prepare_course(folder, course.root)
    generate_release(sample)
    for student in students:
        shutil.copytree(course.submission_folder(student), sample.submission_folder(student))
    return sample


def time_stock_nbgrader(course: Course, students: list[str]) -> float:
    """Seconds per submission of nbgrader's own autograde, one student after another."""
    from nbgrader.apps import NbGraderAPI

    # No config: nbgrader's stock preprocessors (Execute), not the course's, which route
    # autograde through the kit's judge.
    api = NbGraderAPI(coursedir=course.coursedir)
    started = time.perf_counter()
    with _quiet_stderr():
        for student in students:
            api.autograde(course.assignment, student, force=True, create=True)
    return (time.perf_counter() - started) / len(students)


@contextlib.contextmanager
def _quiet_stderr():
    """Keep nbgrader's log and its kernels' start-up warnings (written to fd 2) off the report."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(io.StringIO()):
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def time_kit(course: Course, jobs: int, passes: int = 1) -> tuple[float, float, dict]:
    """Start-up seconds, then seconds per submission of the kit's autograde with its judges warm
    (the median of `passes` passes over the class), and the scores of the first pass."""
    from grader.judge.pool import JudgePool

    started = time.perf_counter()
    seconds, scores = [], None
    with JudgePool(course, jobs) as pool:
        ready = time.perf_counter()
        for _ in range(passes):
            begun = time.perf_counter()
            results = autograde(course, pool=pool, show_progress=False)
            seconds.append((time.perf_counter() - begun) / len(results))
            scores = scores or {r.student: r.to_json() for r in results}
    return ready - started, statistics.median(seconds), scores


def time_kit_serial(course: Course) -> dict:
    """The scores of a one-at-a-time run (one judge, in this process's child), to compare with."""
    return {r.student: r.to_json() for r in autograde(course, jobs=1, show_progress=False)}


def time_floor(course: Course, students: list[str]) -> list[float]:
    """Seconds per submission of each pass that runs the same answers and checks in an already-warm process.

    It runs in a child process, so its imports do not weigh on the kit's memory figures.
    """
    code = ("import sys; from grader.course import Course; from grader.demo.floor import warm_floor_seconds; "
            f"print(*warm_floor_seconds(Course.at(sys.argv[1]), sys.argv[2:], {FLOOR_PASSES}))")
    done = subprocess.run([sys.executable, "-c", code, str(course.root), *students],
                          capture_output=True, text=True, check=True)
    return [float(value) for value in done.stdout.strip().splitlines()[-1].split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=40, help="students graded by stock nbgrader too")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--output", type=Path, default=Path("bench-output"))
    args = parser.parse_args(argv)
    out = args.output.resolve()
    big = make_course(out / "class", args.students)
    sample_ids = big.students()[: args.sample]
    sample = copy_sample(big, out / "sample", sample_ids)
    stock = time_stock_nbgrader(sample, sample_ids)
    # a pass over the sample takes two seconds: the median of three keeps one noisy pass out
    _, kit_sample, kit_scores = time_kit(sample, args.jobs, passes=SAMPLE_PASSES)
    serial_scores = time_kit_serial(sample)
    # the machine's speed drifts over the minute the class takes: the floor is measured on both
    # sides of it, and the median pass stands for it
    floor_passes = time_floor(sample, sample_ids)
    with PeakMemory() as memory:
        started = time.perf_counter()
        startup, kit_big, _ = time_kit(big, args.jobs)
        whole = time.perf_counter() - started
    floor_passes += time_floor(sample, sample_ids)
    floor_per_core = statistics.median(floor_passes) / args.jobs
    same = kit_scores == serial_scores
    print(f"machine: {psutil.cpu_count()} cores, jobs={args.jobs}")
    print(f"stock nbgrader autograde: {stock:.3f} s/submission (sample of {len(sample_ids)})")
    print(f"kit autograde, same sample, judges warm: {kit_sample:.4f} s/submission (median of {SAMPLE_PASSES} passes)")
    print(f"kit autograde, N={args.students}: {kit_big:.4f} s/submission; {whole:.1f} s in all "
          f"including {startup:.1f} s to start the judges")
    print(f"floor (warm in-process, per core): {floor_per_core:.4f} s/submission; median of {len(floor_passes)} "
          f"passes before and after the class, {min(floor_passes) / args.jobs:.4f} to {max(floor_passes) / args.jobs:.4f}")
    print(f"stock nbgrader on the sample / the kit on the whole class: {stock / kit_big:.1f}")
    print(f"parallel grades equal one-at-a-time grades on the sample: {same}")
    for student in sorted(kit_scores):
        if kit_scores[student] != serial_scores.get(student):
            print(f"  differs for {student}: {kit_scores[student]} / {serial_scores.get(student)}")
    print(f"peak memory of the N={args.students} run (PSS of the whole process tree): {memory.peak / 2**20:.0f} MB")
    print(f"ratio_vs_nbgrader={stock / kit_sample:.1f} ratio_to_floor={kit_big / floor_per_core:.2f} "
          f"per_submission_s={kit_big:.4f} peak_rss_mb={memory.peak / 2**20:.0f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
