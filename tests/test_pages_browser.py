"""Every page made from a hostile notebook, opened in Debian's Chromium as a TA or student opens it:
the feedback files, formgrader's grading view on a real Jupyter server, and the class report.
Every link is clicked and every request recorded: nothing runs, loads or leaves the machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import CHROMIUM_ARGS, chromium_path, open_and_click
from hostile import HOSTILE_MARKDOWN, OWNED
from nbgrader.api import Gradebook
from sample import KIT_ROOT, solved, with_answers, write_submission

from grader.course import Course
from grader.pages.policy import STATIC_PAGE, formgrader_policy

pytestmark = [pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"), pytest.mark.slow(90)]

MALLORY = "mallory<img src=x onerror=alert(1)>"  # a student id is a folder name the student may choose
STOCK = "stock"  # autograded by another tool: the notebook keeps the student's own outputs
HONEST_LINK = "https://pytorch.org/docs/stable/autograd.html"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAAAAAEAAFUok9dAAAAAElFTkSuQmCC")
# Elements and attributes that would act or load; none may be in a page's notebook.
FORBIDDEN = ("script, iframe, frame, form, object, embed, base, svg, style, link, meta, audio, video, "
             "[onerror], [onload], [onclick], [onmouseover], [onfocus], [style*='url']")


def _hostile_notebook(release):
    nb = with_answers(solved(release), {"explain_bug": f"[docs]({HONEST_LINK})\n\n{HOSTILE_MARKDOWN}"})
    nb.cells[1:1] = [
        nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN),
        nbformat.v4.new_raw_cell(f"<script>{OWNED}</script><img src=x onerror=alert(1)>",
                                 metadata={"raw_mimetype": "text/html", "format": "text/html"}),
        nbformat.v4.new_code_cell(f"print('<script>{OWNED}</script>')"),
    ]
    return nb


def _stock_autograded(notebook: Path) -> None:
    """Outputs as a kernel leaves them (stock `nbgrader autograde`): HTML, SVG, JavaScript, an image
    whose size and data try to break out of the tag, a widget; a raw HTML cell; hostile tags."""
    nb = nbformat.read(notebook, as_version=4)
    code = nbformat.v4.new_code_cell("display(everything)", metadata={"tags": ['"><script>alert(1)</script>']})
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": f"<img src=x onerror=alert(1)><script>{OWNED}</script>"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": f"<svg onload='{OWNED}'><script>{OWNED}</script></svg>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": OWNED}),
        nbformat.v4.new_output("display_data", data={"text/markdown": HOSTILE_MARKDOWN}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG},
                               metadata={"image/png": {"width": '1 onerror=alert(1)'}}),
        nbformat.v4.new_output("display_data", data={"image/png": '" onerror="alert(1)'}),
        nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"}}),
        nbformat.v4.new_output("stream", name="stdout", text=f"<script>{OWNED}</script>"),
    ]
    nb.cells[2:2] = [code, nbformat.v4.new_raw_cell("<iframe src='https://evil.example/'></iframe>",
                                                    metadata={"raw_mimetype": "text/html"})]
    nbformat.write(nb, notebook)


@pytest.fixture(scope="module")
def hostile_course(released_course: Course, tmp_path_factory) -> Course:
    """A class with a hostile student (markdown answer, added cells, id, name), an honest one, and
    a notebook another tool autograded with hostile outputs; feedback written by `grader feedback`."""
    from grader.judge.batch import autograde
    from grader.report.feedback import generate_feedback

    root = tmp_path_factory.mktemp("pages") / "course"
    shutil.copytree(released_course.root, root)
    course = Course.at(root)
    release = nbformat.read(course.release_notebook(), as_version=4)
    write_submission(course.root, MALLORY, _hostile_notebook(release))
    write_submission(course.root, "alice", solved(release))
    autograde(course, jobs=1, show_progress=False)
    stock = course.autograded_notebook(STOCK)
    stock.parent.mkdir(parents=True)
    shutil.copy(course.autograded_notebook("alice"), stock)
    _stock_autograded(stock)
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.add_student(STOCK)
        gb.add_submission(course.assignment, STOCK)
        gb.update_or_create_student(MALLORY, first_name="<b onmouseover=alert(1)>M", last_name='"><script>x</script>')
    generate_feedback(course)
    return course


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS)
        try:
            debian = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60).stdout
            assert chromium.version.split(".")[0] in debian, (chromium.version, debian)  # Debian's, not a download
            yield chromium
        finally:
            chromium.close()


def _assert_inert(visit, local: tuple[str, ...] = ("file:", "data:")) -> None:
    assert visit.dialogs == [] and not visit.owned, (visit.dialogs, visit.owned)
    assert all(href.startswith(("http://", "https://", "mailto:", "#")) for href in visit.hrefs), visit.hrefs
    clicked_away = [h for h in visit.hrefs if h.startswith("http")]
    assert [url for url in visit.requests if not url.startswith(local)] == [
        url for url in visit.navigations if not url.startswith(local)], "a request that was no click's navigation"
    assert all(url in clicked_away for url in visit.navigations if not url.startswith(local)), visit.navigations
    # Nothing of the student's even tried to load or run. (nbgrader's inlined bootstrap names its
    # glyph font by a path relative to the page, which no standalone page has: refused, as it should be.)
    assert [v for v in visit.violations if not v.startswith("font-src file")] == [], visit.violations


def _visit(browser, url: str, links: str, allowed_origin: str | None = None, score: bool = False,
           headers: dict | None = None):
    """The visit, and what the page held once loaded (before its links were clicked); with
    `score`, a TA first types 1 as the hand-graded answer's score in formgrader."""
    facts: dict = {}

    def look(page):
        facts.update(_page_facts(page))
        if allowed_origin:
            facts["formgrader"] = page.evaluate("typeof formgrader === 'object' && typeof $ === 'function'")
            facts["nav"] = page.locator("li.live-notebook").text_content()
            page.locator("span.glyphicon.name-hidden").click()  # formgrader's inline handler: show the name
            facts["name shown"] = page.locator("a.name-shown").is_visible()
        if score:  # once formgrader has bound its grade inputs to the gradebook
            page.wait_for_function("() => formgrader.grades && formgrader.grades.loaded", timeout=60_000)
            box = page.locator("input.score#explain_bug")
            box.fill("1")
            box.press("Tab")
            page.wait_for_function("() => formgrader.grades.findWhere({name: 'explain_bug'}).get('manual_score') == 1")

    return open_and_click(browser, url, links, allowed_origin=allowed_origin, before_clicks=look, headers=headers), facts


def _page_facts(page) -> dict:
    return page.evaluate(f"""() => ({{
        forbidden: [...document.querySelectorAll("#notebook-container :is({FORBIDDEN})")].map(e => e.outerHTML.slice(0, 80)),
        images: [...document.querySelectorAll('#notebook-container img')].map(i => i.src.slice(0, 22)),
        scripts: document.querySelectorAll('script').length,
        text: document.body.innerText,
    }})""")


def test_feedback_pages_of_a_hostile_notebook_are_inert(hostile_course, browser):
    """Opened in Chromium with every link clicked, does each student's feedback page (a hostile
    answer and added cells, and a notebook with hostile outputs) run nothing, fetch nothing, link
    nowhere but the web and itself, and still show the total, the answers and the honest link?"""
    hrefs = {}
    for student in (MALLORY, STOCK):
        visit, facts = _visit(browser, hostile_course.feedback_html(student).as_uri(), "a[href]")
        hrefs[student] = visit.hrefs
        _assert_inert(visit)
        assert visit.policy == STATIC_PAGE
        assert facts["forbidden"] == [] and facts["scripts"] == 0
        assert set(facts["images"]) <= {"data:image/png;base64,"}
        assert "Total:" in facts["text"] and "Derivatives in PyTorch" in facts["text"]
        assert f"<script>{OWNED}</script>" in facts["text"]  # shown to the reader as text
    assert HONEST_LINK in hrefs[MALLORY]  # clicked, and refused on its way out
    mallory_page = hostile_course.feedback_html(MALLORY).read_text()
    assert f'href="{HONEST_LINK}"' in mallory_page and "link to javascript:alert(1) removed" in mallory_page


def test_the_class_report_of_a_hostile_class_is_inert(hostile_course, browser, tmp_path):
    """Does the class report of the same class (a hostile id among its students) run and fetch nothing?"""
    from grader.report.publish import write_report

    files = write_report(hostile_course.root, "derivatives", tmp_path)
    visit = open_and_click(browser, files.html.as_uri(), "a[href]")
    _assert_inert(visit)
    assert visit.policy == STATIC_PAGE
    assert MALLORY in files.html.read_text().replace("&lt;", "<").replace("&gt;", ">")


# ------------------------------------------------------------------ formgrader, on a real server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def formgrader(hostile_course: Course, tmp_path_factory):
    """A Jupyter server with nbgrader's formgrader, run from the course as a TA runs it (its
    nbgrader_config.py is the kit's), in a home of its own; yields its base URL and token."""
    home = tmp_path_factory.mktemp("jupyter-home")
    port, token = _free_port(), "pages-test-token"
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "PYTHONPATH": os.pathsep.join([str(KIT_ROOT), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={hostile_course.root.parent}",
         f"--port={port}", "--ip=127.0.0.1", "--no-browser", f"--IdentityProvider.token={token}",
         "--ServerApp.port_retries=0", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=hostile_course.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert server.poll() is None, f"jupyter server exited: {server.stderr.read()[-2000:]}"
                assert time.monotonic() < deadline, "jupyter server did not start in 300 s"
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _submission_id(course: Course, student: str) -> str:
    with Gradebook(course.db_url, course.course_id) as gb:
        return gb.find_submission_notebook(course.notebook, course.assignment, student).id


def test_formgraders_grading_view_is_inert_and_still_grades(hostile_course, formgrader, browser):
    """In formgrader's grading view of the hostile submission (and of the notebook with hostile
    outputs), on a real Jupyter server: does nothing of the student's run or load, does every
    notebook link go only to the web or the page, does the student's name show as text, and do
    formgrader's own controls still work (a score typed for the hand-graded answer is saved)?"""
    base, token = formgrader
    for student in (STOCK, MALLORY):
        url = f"{base}/formgrader/submissions/{_submission_id(hostile_course, student)}/"
        visit, facts = _visit(browser, url, "#notebook-container a[href]", allowed_origin=base,
                              score=student == MALLORY, headers={"Authorization": f"token {token}"})
        assert visit.policy == formgrader_policy()
        assert visit.dialogs == [] and not visit.owned and facts["forbidden"] == [], facts["forbidden"]
        assert facts["formgrader"] and facts["name shown"], "formgrader's own scripts and handlers did not run"
        assert all(h.startswith(("http://", "https://", "mailto:", "#")) for h in visit.hrefs), visit.hrefs
        outside = [u for u in visit.requests if not u.startswith((base, "data:"))]
        assert all(u in visit.hrefs for u in outside), outside  # only the clicked web links, each refused
        assert visit.violations == [], visit.violations  # formgrader's own scripts and handlers all allowed
        assert set(facts["images"]) <= {"data:image/png;base64,"}
    assert '"><script>x</script>, <b onmouseover=alert(1)>M' in facts["nav"]  # the names, as text
    assert _saved_score(hostile_course, MALLORY) == 1.0


def _saved_score(course: Course, student: str, wait: float = 60) -> float | None:
    """The TA's score for explain_bug, once formgrader's server has written it."""
    deadline = time.monotonic() + wait
    while True:
        with Gradebook(course.db_url, course.course_id) as gb:
            score = gb.find_grade("explain_bug", course.notebook, course.assignment, student).manual_score
        if score is not None or time.monotonic() > deadline:
            return score
        time.sleep(0.5)
