"""`grader report` on a graded course with a copied notebook: the section a TA reads, in report.json
and in a browser, and a gradebook it leaves as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from lookalike_class import build_class, copy_student, notebook_of
from sample import write_submission
from test_class_report import CHROMIUM_ARGS, _only_local, chromium  # noqa: F401 (a fixture)

from grader.course import Course

pytestmark = [
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
    pytest.mark.duration(40),  # autogrades a class of twelve
]
HOSTILE_TEXT = "<script>alert(1)</script></pre><img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def copied_course(released_course: Course, tmp_path_factory) -> tuple[Course, str, str]:
    """Eleven honest students and one who copied the notebook of one of them (renamed, reformatted,
    reordered, comments reworded), autograded through the kit; returns the course, the source, the copier."""
    import random

    from grader.judge.batch import autograde

    root = tmp_path_factory.mktemp("look-alike") / "course"
    shutil.copytree(released_course.root, root)
    course = Course.at(root)
    release = nbformat.read(course.release_notebook(), as_version=4)
    students = build_class(11, 0, seed=21).students
    source = max(students, key=lambda s: (len(s.extras), bool(s.written), s.id))
    source.extras.append(f"# {HOSTILE_TEXT}\nprint('{HOSTILE_TEXT}')\n")
    copier = copy_student("zed", source, random.Random(4), partial=False)
    for student in [*students, copier]:
        write_submission(course.root, student.id, notebook_of(student, release))
    autograde(course, jobs=2, show_progress=False)
    return course, source.id, copier.id


def _report(course: Course, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "--course", str(course.root), "report", "derivatives",
                           "--output", str(output)], capture_output=True, text=True, timeout=300)


def test_the_report_groups_the_copy_with_its_evidence(copied_course, tmp_path):
    """Does report.json's section list the copier with the student copied from, each shared piece with
    both cells' text, how many students hold it and its bits, and say it is a lead, not a verdict?"""
    course, source, copier = copied_course
    done = _report(course, tmp_path)
    assert done.returncode == 0, done.stderr
    section = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["look_alike"]
    assert section["compared"] == 12 and section["not_compared"] == {}
    [group] = section["groups"]
    assert group["students"] == sorted([source, copier]) and group["score"] >= section["threshold"]
    [pair] = group["pairs"]
    shared = {piece["left_label"] for piece in pair["shared"]}
    assert {"explain_bug", "SQ", "grad_at"} <= shared, shared
    assert all(0 < p["holders"] <= 12 and p["left_text"] and p["right_text"] for p in pair["shared"])
    assert max(p["bits"] for p in pair["shared"]) > 3  # something only the two of them wrote
    assert "never a verdict" in section["note"] and "grades or feedback" in section["note"]
    assert "look-alike groups: 1" in done.stdout


def test_a_scan_process_that_dies_costs_only_time(copied_course, tmp_path, monkeypatch):
    """When the process the report compares the class in dies as it starts, is the section the
    same as when it lives (the scan then runs in the report's own process)?"""
    import os

    from grader.report import publish

    course, _, _ = copied_course
    kept = publish.write_report(course.root, "derivatives", tmp_path / "kept").report.look_alike
    monkeypatch.setattr(publish, "preload", lambda: os._exit(3))
    lost = publish.write_report(course.root, "derivatives", tmp_path / "lost").report.look_alike
    assert lost == kept and len(kept.groups) == 1


def test_the_report_changes_no_grade_and_writes_only_its_own_folder(copied_course, tmp_path):
    """After `grader report`, is every file of the course outside the report's folder byte for byte
    the same, the gradebook's scores and comments included?"""
    course, _, _ = copied_course
    before = _files(course.root)
    assert _report(course, course.root / "reports" / "again").returncode == 0
    after = _files(course.root)
    assert {p: h for p, h in after.items() if not p.startswith("reports/")} == before


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not str(p.relative_to(root)).startswith("reports/")}


def test_a_ta_reads_the_evidence_side_by_side_and_the_page_stays_inert(copied_course, chromium, tmp_path):  # noqa: F811
    """In headless Chromium with every request watched: is the group shown with both students, the
    hostile cell's text shown as text beside its copy, no script on the page and nothing fetched?"""
    from playwright.sync_api import sync_playwright

    course, source, copier = copied_course
    assert _report(course, tmp_path).returncode == 0
    page_html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page_html and "&lt;script&gt;alert(1)&lt;/script&gt;" in page_html
    fetched: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.route("**/*", lambda route: _only_local(route, fetched))
            page.goto((tmp_path / "report.html").as_uri())
            group = page.locator("#look-alike .group").first
            seen = {"heading": group.locator("h3").inner_text(), "visible": group.is_visible(),
                    "cells": group.locator("td pre").all_inner_texts(),
                    "scripts": page.locator("script").count(), "images": page.locator("#look-alike img").count(),
                    "note": page.locator("#look-alike-note").inner_text()}
        finally:
            browser.close()
    assert seen["visible"] and source in seen["heading"] and copier in seen["heading"]
    assert sum(HOSTILE_TEXT in cell for cell in seen["cells"]) == 2  # the source's cell and its copy, as text
    assert seen["scripts"] == 0 and seen["images"] == 0 and dialogs == []
    assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
    assert "never a verdict" in seen["note"]
