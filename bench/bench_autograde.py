"""What people wait for, measured side by side with stock nbgrader in one run on one machine.

Every ratio compares like with like, and the figures that take seconds are medians of
`--passes` passes:
- one notebook: `grader grade NB --json` against `nbgrader autograde --student S` of the same
  submission, each from process start to exit; `grader grade` cold, and while `grader serve`
  keeps a warm judge;
- one release: `grader release` with its full audit against `nbgrader generate_assignment`,
  and `grader release --question ID` (after the full one: its notebook unchanged) against the
  full release;
- a class of `--class` (200): `grader autograde` from process start to exit against stock
  nbgrader's per-submission rate (`nbgrader autograde` of a sample, start to exit, divided by
  its size; one pass of several notebooks), and against `nbgrader autograde` through the
  course config (the kit's judges) of the same class, a fresh copy for each pass;
- the class's feedback: `grader feedback` of the class of `--class` (200), start to exit, against
  stock `nbgrader generate_feedback --force` (nbgrader's own configuration, no kit) on a copy of
  the same gradebook and autograded notebooks (one pass: about a minute);
- a class of `--students` (1,000), one pass of about a minute: `grader autograde` from start
  to exit, its peak memory, and its per-submission time with judges warm against a warm
  in-process floor per core (the same checks run on students spread over the same class, so
  both see its mix of answers; three passes before the class and three after); then the
  whole wait after collect: that autograde, `grader feedback`, `grader export` and `grader
  report`, each typed as its own command.

Grades are compared across paths: parallel against one at a time, and the gradebook that
`nbgrader autograde` leaves against the one `grader autograde` leaves.

The last line is stable: each figure as `name=value(target)`, then `targets_met=k/n`.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from grader.course import SECRET_FILE, Course
from grader.demo.run import kit_course_root, prepare_course
from grader.judge.batch import autograde, default_jobs
from grader.judge.nbgrader_steps import STOCK_AUTOGRADE_PREPROCESSORS, STOCK_SANITIZE_PREPROCESSORS
from grader.judge.pool import JudgePool

__all__ = ["main"]

# nbgrader's own autograde: its sanitizing steps and its Execute preprocessor instead of the
# course's, which route autograde through the kit's judge
STOCK = [f"--Autograde.sanitize_preprocessors={STOCK_SANITIZE_PREPROCESSORS!r}",
         f"--Autograde.autograde_preprocessors={STOCK_AUTOGRADE_PREPROCESSORS!r}"]
FLOOR_PASSES = 3  # before the class and again after it
FLOOR_STUDENTS = 100  # every k-th student of the large class: its mix of answers, at a tenth of the time


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
            self.peak = max(self.peak, _tree_pss(me))
            time.sleep(self.interval)


def _tree_pss(process: psutil.Process) -> int:
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


# ------------------------------------------------------------------ courses


def make_course(folder: Path, students: int) -> Course:
    from grader.demo.simulate import simulate_class
    from grader.release.generate import generate_release

    course = prepare_course(folder, kit_course_root())
    generate_release(course)
    simulate_class(course, students, seed=1)
    return course


def copy_sample(course: Course, folder: Path, students: list[str]) -> Course:
    """A second course with the same release, gradebook and secret, and only `students`' submissions
    (the secret seeds the hidden inputs: another would draw other inputs, and a borderline answer
    could then score otherwise on one path than on the other)."""
    sample = prepare_course(folder, course.root)
    shutil.copytree(course.root / "release", sample.root / "release")
    course.secret()  # made on first use
    shutil.copy(course.root / SECRET_FILE, sample.root / SECRET_FILE)
    shutil.copy(course.root / "gradebook.db", sample.root / "gradebook.db")
    for student in students:
        shutil.copytree(course.submission_folder(student), sample.submission_folder(student))
    return sample


# ------------------------------------------------------------------ timing


def seconds_of(command: list[str], course: Course, passes: int = 1) -> float:
    """Median wall-clock seconds of `command` run in the course's folder, process start to exit."""
    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        subprocess.run(command, cwd=course.root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def tool(name: str) -> str:
    """A command of this environment (`grader`, `nbgrader`), beside this interpreter."""
    return str(Path(sys.executable).with_name(name))


def one_notebook(course: Course, student: str, passes: int) -> tuple[float, float]:
    """Seconds of stock `nbgrader autograde --student`, then of `grader grade --json`, same submission."""
    stock = seconds_of([tool("nbgrader"), "autograde", course.assignment, "--student", student, "--force", *STOCK],
                       course, passes)
    notebook = course.submission_folder(student) / f"{course.notebook}.ipynb"
    kit = seconds_of([tool("grader"), "grade", str(notebook), "--json"], course, passes)
    return stock, kit


@contextlib.contextmanager
def grading_service(course: Course):
    """`grader serve` running for the course, until the block ends."""
    server = subprocess.Popen([tool("grader"), "serve", course.assignment], cwd=course.root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:  # its ready line names the socket
            if "Ctrl-C to stop" in line:
                break
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def served_notebook(course: Course, student: str, passes: int) -> float:
    """Seconds of `grader grade --json` while `grader serve` runs (the TA's warm judge)."""
    notebook = course.submission_folder(student) / f"{course.notebook}.ipynb"
    with grading_service(course):
        return seconds_of([tool("grader"), "grade", str(notebook), "--json"], course, passes)


def one_release(course: Course, question: str, passes: int) -> tuple[float, float, float]:
    """Seconds of `nbgrader generate_assignment`, `grader release` (full audit) and `--question`."""
    stock = seconds_of([tool("nbgrader"), "generate_assignment", course.assignment, "--force"], course, passes)
    kit = seconds_of([tool("grader"), "release", course.assignment], course, passes)
    one = seconds_of([tool("grader"), "release", course.assignment, "--question", question], course, passes)
    return stock, kit, one


def stock_rate(sample: Course) -> float:
    """Seconds per submission of stock `nbgrader autograde` over the whole sample, start to exit."""
    return seconds_of([tool("nbgrader"), "autograde", sample.assignment, "--force", *STOCK], sample) / len(sample.students())


def stock_course(course: Course, folder: Path) -> Course:
    """A copy of the course's gradebook and autograded notebooks under nbgrader's own configuration
    (the course's root, id and gradebook; none of the kit's steps, filters or templates)."""
    shutil.rmtree(folder, ignore_errors=True)  # a copy an earlier run left
    folder.mkdir(parents=True)
    shutil.copytree(course.root / "source", folder / "source")
    shutil.copytree(course.root / "autograded", folder / "autograded")
    shutil.copy(course.root / "gradebook.db", folder / "gradebook.db")
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(folder)!r}\n"
        f"c.CourseDirectory.course_id = {course.coursedir.course_id!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(folder / 'gradebook.db')!r}\n")
    return Course.at(folder, course.assignment)


def feedback_seconds(course: Course, stock: Course, passes: int) -> tuple[float, float]:
    """Seconds of stock `nbgrader generate_feedback --force` (one pass), then of `grader feedback`."""
    nbgrader = seconds_of([tool("nbgrader"), "generate_feedback", stock.assignment, "--force"], stock)
    kit = seconds_of([tool("grader"), "feedback", course.assignment], course, passes)
    return nbgrader, kit


def kit_class(course: Course, jobs: int, passes: int = 1) -> tuple[float, int]:
    """Median seconds of `grader autograde` from process start to exit, and the peak PSS of its process tree."""
    with PeakMemory() as memory:
        seconds = seconds_of([tool("grader"), "autograde", course.assignment, "--jobs", str(jobs)], course, passes)
    return seconds, memory.peak


def nbgrader_path(courses: list[Course]) -> float:
    """Median seconds of `nbgrader autograde ASSIGNMENT` through the course config, start to exit,
    each pass on a fresh copy of the class (a TA's first autograde of it)."""
    return statistics.median(seconds_of([tool("nbgrader"), "autograde", course.assignment], course)
                             for course in courses)


def after_collect(course: Course, autograde_seconds: float) -> dict[str, float]:
    """Seconds of each command a TA types once the class is collected, from process start to exit
    (autograde already timed)."""
    seconds = {"autograde": autograde_seconds}
    for verb in ("feedback", "export", "report"):
        seconds[verb] = seconds_of([tool("grader"), verb, course.assignment], course)
    return seconds


def gradebook_rows(course: Course) -> dict:
    """What autograde records, per student: each cell's grade and comment, the time and the late penalty."""
    from nbgrader.api import Gradebook

    from grader.report.gradebook_rows import submission_rows

    with Gradebook(course.db_url, course.course_id) as gb:
        return {row.student: (row.grades, row.comments, row.timestamp, row.late_penalty)
                for row in submission_rows(gb, course.assignment)}


def kit_warm(course: Course, pool, students: list[str] | None = None) -> tuple[float, dict]:
    """Seconds per submission with the judges of `pool` already warm, and the scores."""
    started = time.perf_counter()
    results = autograde(course, pool=pool, students=students, show_progress=False)
    per_submission = (time.perf_counter() - started) / len(results)
    return per_submission, {r.student: r.to_json() for r in results}


def one_at_a_time(course: Course, students: list[str]) -> dict:
    """The scores of a one-at-a-time run (one judge, in this process's child), to compare with."""
    return {r.student: r.to_json() for r in autograde(course, jobs=1, students=students, show_progress=False)}


def spread(students: list[str], count: int) -> list[str]:
    """`count` students taken at even steps through the class (all of them if it is smaller)."""
    step = max(1, len(students) // count)
    return students[::step][:count]


def time_floor(course: Course, students: list[str]) -> list[float]:
    """Seconds per submission of each pass that runs the same answers and checks in an already-warm process.

    It runs in a child process, so its imports do not weigh on the kit's memory figures.
    """
    code = ("import sys; from grader.course import Course; from grader.demo.floor import warm_floor_seconds; "
            f"print(*warm_floor_seconds(Course.at(sys.argv[1]), sys.argv[2:], {FLOOR_PASSES}))")
    done = subprocess.run([sys.executable, "-c", code, str(course.root), *students],
                          capture_output=True, text=True, check=True)
    return [float(value) for value in done.stdout.strip().splitlines()[-1].split()]


# ------------------------------------------------------------------ report


def host_loop_seconds() -> float:
    """Seconds of a fixed loop of Python arithmetic on one core: how fast the host runs right now.

    Machines here are shared: the same code reads slower on a busy host, and this says so
    beside the figures (about 0.2 s on a quiet one here)."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i * i
    return time.perf_counter() - started


def figure(name: str, value: float, op: str, target: float, digits: int = 1) -> tuple[str, bool]:
    met = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return f"{name}={value:.{digits}f}({op}{target:g})", met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000, help="the large class")
    parser.add_argument("--class", dest="class_size", type=int, default=200, help="the class timed against nbgrader")
    parser.add_argument("--sample", type=int, default=8, help="students graded by stock nbgrader")
    parser.add_argument("--passes", type=int, default=3, help="passes of each one-notebook and release timing")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--output", type=Path, default=Path("bench-output"))
    args = parser.parse_args(argv)
    out = args.output.resolve()
    host_before = host_loop_seconds()
    big = make_course(out / "class", max(args.students, args.class_size))
    everyone = big.students()
    sample_ids = everyone[: args.sample]
    sample = copy_sample(big, out / "sample", sample_ids)
    middle = copy_sample(big, out / "middle", everyone[: args.class_size])
    through_nbgrader = [copy_sample(big, out / f"nbgrader-path-{n}", everyone[: args.class_size])
                        for n in range(args.passes)]
    question = big.autograded[-1].id

    stock_one, kit_one = one_notebook(sample, sample_ids[0], args.passes)
    served_one = served_notebook(sample, sample_ids[0], args.passes)
    stock_release, kit_release, question_release = one_release(sample, question, args.passes)
    per_stock = stock_rate(sample)
    middle_seconds, _ = kit_class(middle, args.jobs, args.passes)
    nbgrader_seconds = nbgrader_path(through_nbgrader)
    kit_rows = gradebook_rows(middle)
    gradebook_differs = sorted({student for course in through_nbgrader
                                for student, row in gradebook_rows(course).items() if kit_rows.get(student) != row})
    same_gradebook = not gradebook_differs
    stock_feedback, kit_feedback = feedback_seconds(middle, stock_course(middle, out / "stock-feedback"), args.passes)
    floor_ids = spread(everyone, FLOOR_STUDENTS)  # the class's own mix of answers, as the kit grades it
    floor_passes = time_floor(big, floor_ids)
    big_seconds, peak = kit_class(big, args.jobs)
    waits = after_collect(big, big_seconds)
    with JudgePool(big, args.jobs) as pool:  # the sample's students are the big class's first ones
        warm_big, _ = kit_warm(big, pool)
        warm_sample, parallel = kit_warm(big, pool, sample_ids)
    floor_passes += time_floor(big, floor_ids)
    floor_per_core = statistics.median(floor_passes) / args.jobs
    serial = one_at_a_time(big, sample_ids)
    parallel_differs = [student for student in sample_ids if parallel.get(student) != serial.get(student)]
    same = not parallel_differs and same_gradebook

    host_after = host_loop_seconds()
    print(f"machine: {psutil.cpu_count()} cores, jobs={args.jobs}; medians of {args.passes} passes")
    print(f"host speed: a fixed loop of Python arithmetic took {host_before:.2f} s before this run and "
          f"{host_after:.2f} s after it (about 0.2 s on a quiet host here; a busy host reads higher, as do its figures)")
    print(f"one notebook: nbgrader autograde --student {stock_one:.2f} s, grader grade {kit_one:.2f} s "
          f"(cold), {served_one:.2f} s (while grader serve runs)")
    print(f"one release: nbgrader generate_assignment {stock_release:.2f} s, grader release (full audit) "
          f"{kit_release:.2f} s, grader release --question {question} {question_release:.2f} s")
    print(f"stock nbgrader autograde: {per_stock:.3f} s/submission (a class of {len(sample_ids)}, start to exit)")
    print(f"grader autograde, {args.class_size} students: {middle_seconds:.1f} s start to exit, median of {args.passes} "
          f"(stock nbgrader would take {per_stock * args.class_size:.0f} s)")
    print(f"nbgrader autograde through the course config, {args.class_size} students: {nbgrader_seconds:.1f} s "
          f"start to exit, median of {len(through_nbgrader)} fresh copies; its gradebook equals "
          f"grader autograde's: {same_gradebook}" + (f" (not for {', '.join(gradebook_differs)})"
                                                       if gradebook_differs else ""))
    print(f"feedback, {args.class_size} students: nbgrader generate_feedback {stock_feedback:.1f} s (stock), "
          f"grader feedback {kit_feedback:.1f} s, start to exit")
    print(f"grader autograde, {len(everyone)} students: {big_seconds:.1f} s start to exit, "
          f"{warm_big:.4f} s/submission with judges warm, peak {peak / 2**20:.0f} MB (PSS of the process tree)")
    print(f"floor (warm in-process, per core): {floor_per_core:.4f} s/submission on {len(floor_ids)} students spread "
          f"over the class; median of {len(floor_passes)} passes before and after it, "
          f"{min(floor_passes) / args.jobs:.4f} to {max(floor_passes) / args.jobs:.4f}")
    print(f"kit, judges warm, on the sample: {warm_sample:.4f} s/submission")
    print(f"after collect, {len(everyone)} students: " + ", ".join(f"grader {verb} {seconds:.1f} s"
                                                               for verb, seconds in waits.items())
          + f"; {sum(waits.values()):.1f} s in all")
    print(f"parallel grades equal one-at-a-time grades on the sample: {not parallel_differs}"
          + (f" (not for {', '.join(parallel_differs)})" if parallel_differs else ""))
    figures = [
        figure("grade_vs_nbgrader", stock_one / kit_one, ">=", 3, digits=2),  # two digits near a target:
        figure("served_grade_vs_nbgrader", stock_one / served_one, ">=", 3),  # 3.04 must not print as 3.0
        figure("release_vs_generate", kit_release / stock_release, "<=", 3, digits=2),
        figure("question_release_s", question_release, "<=", 5),
        figure("question_vs_release", question_release / kit_release, "<=", 0.33, digits=2),
        figure(f"class{args.class_size}_vs_nbgrader", per_stock * args.class_size / middle_seconds, ">=", 50),
        figure("nbgrader_path_vs_kit", nbgrader_seconds / middle_seconds, "<=", 3, digits=2),
        figure(f"class{len(everyone)}_s", big_seconds, "<", 60),
        figure("ratio_to_floor", warm_big / floor_per_core, "<=", 2.0, digits=2),
        figure("peak_mb", peak / 2**20, "<", 1500, digits=0),
        figure("feedback_vs_nbgrader", stock_feedback / kit_feedback, ">=", 10),
        figure(f"after_collect_{len(everyone)}_s", sum(waits.values()), "<", 90),
    ]
    texts = [text for text, _ in figures]
    met = sum(ok for _, ok in figures)
    print(" ".join([*texts, f"grades_equal={same}", f"targets_met={met}/{len(figures)}"]))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
