"""Student text on a page: rendered safely, as nbconvert rendered honest markdown, in linear time."""

from __future__ import annotations

import base64
import re
import time

import nbformat
import pytest
from hostile import HOSTILE_MARKDOWN, LINK_VECTORS, LOAD_VECTORS, OWNED, unsafe_parts
from sample import KIT_ROOT

from grader.pages.markdown import MAX_MARKDOWN_CHARS, render_markdown
from grader.pages.notebook import PAGE_TEXT_CHARS, InertNotebook
from grader.pages.safe import image_source, link_target

PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                     "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def _release_markdown() -> list[str]:
    nb = nbformat.read(KIT_ROOT / "release" / "derivatives" / "derivatives.ipynb", as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "markdown"]


def _normalised(html: str) -> str:
    """HTML with the differences that do not show removed: entity spelling, whitespace between
    tags, the links' rel, math's span and code blocks' class."""
    html = html.replace("&#91;", "[").replace("&#93;", "]").replace("&#x27;", "'").replace("&quot;", '"')
    html = html.replace("&#182;", "¶").replace(' rel="noopener noreferrer nofollow"', "")
    html = re.sub(r'<span class="math">(.*?)</span>', r"\1", html)
    html = re.sub(r'<p class="math">(.*?)</p>', r"<p>\1</p>", html, flags=re.S)
    html = html.replace('class="highlight hl-python"', 'class="highlight"')
    return re.sub(r">\s+<", "><", re.sub(r"\s*\n\s*", "\n", html)).strip()


@pytest.mark.parametrize("index", range(len(_release_markdown())))
def test_the_release_notebooks_markdown_renders_as_nbconvert_rendered_it(index):
    """Does each markdown cell of the release (headings with their anchors, lists, tables, code,
    math as text) render as nbconvert's own renderer did, but for how entities are spelled?"""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    text = _release_markdown()[index]
    assert _normalised(render_markdown(text)) == _normalised(MarkdownWithMath(renderer=IPythonRenderer(escape=False)).render(text))


def test_honest_markdown_keeps_its_links_images_and_emphasis():
    """Do an http link, a mailto autolink, a #fragment, an attached PNG, emphasis, a task list and
    inline code survive, and does math stay as written (no emphasis inside it)?"""
    text = ("See [the docs](https://pytorch.org/docs/stable/autograd.html), <mailto:ta@example.org> and "
            "[above](#Exercise-1). *Chain* rule, **twice**, `x.grad`, $x_1 * y_2$ and ~~wrong~~.\n\n"
            "- [x] done\n- [ ] not yet\n\n![plot](attachment:plot.png)")
    html = render_markdown(text, {"plot.png": {"image/png": PNG}})
    assert unsafe_parts(html) == []
    assert '<a href="https://pytorch.org/docs/stable/autograd.html"' in html and 'href="mailto:ta@example.org"' in html
    assert '<a href="#Exercise-1"' in html and f'<img src="data:image/png;base64,{PNG}" alt="plot">' in html
    assert "<em>Chain</em>" in html and "<strong>twice</strong>" in html and "<code>x.grad</code>" in html
    assert "$x_1 * y_2$" in html and "<del>wrong</del>" in html and html.count('type="checkbox"') == 2


@pytest.mark.parametrize("name", sorted({**LINK_VECTORS, **LOAD_VECTORS}))
def test_a_hostile_text_renders_to_nothing_that_acts_or_loads(name):
    """Does each vector render to escaped text and safe tags only, with what was removed named?"""
    text = {**LINK_VECTORS, **LOAD_VECTORS}[name]
    html = render_markdown(text)
    assert unsafe_parts(html) == [], html
    if name in LINK_VECTORS and "raw" not in name and "autolink" not in name:
        assert "click me" in html  # the link's text stays, as text


def test_every_vector_together_renders_safely():
    """Does one answer with every vector, one after another, render with nothing unsafe?"""
    assert unsafe_parts(render_markdown(HOSTILE_MARKDOWN)) == []


@pytest.mark.parametrize("url, expected", [
    ("https://example.org/a?b=c", "https://example.org/a?b=c"),
    ("HTTP://EXAMPLE.ORG", "http://EXAMPLE.ORG"),
    ("mailto:ta@example.org", "mailto:ta@example.org"),
    ("#section", "#section"),
    ("javascript:alert(1)", None),
    ("&#x6A;avascript:alert(1)", None),
    ("java\tscript:alert(1)", None),
    (" javascript:alert(1)", None),
    ("\x01javascript:alert(1)", None),
    ("data:text/html,x", None),
    ("vbscript:x", None),
    ("https:evil.example", None),
    ("notes.html", None),
    ("//evil.example", None),
])
def test_links_go_only_to_web_and_mail_addresses_and_this_page(url, expected):
    """Does the link policy let through http(s), mailto and #fragments only, however spelled?"""
    assert link_target(url) == expected


def test_images_come_only_from_attachments_or_data_rasters():
    """Is an image a data: URI of a raster type with well-formed base64, and nothing else?"""
    assert image_source(f"data:image/png;base64,{PNG}") == f"data:image/png;base64,{PNG}"
    assert image_source("attachment:a.png", {"a.png": {"image/png": PNG}}) == f"data:image/png;base64,{PNG}"
    assert image_source("attachment:a.svg", {"a.svg": {"image/svg+xml": "PHN2Zz4="}}) is None
    assert image_source('data:image/png;base64,AAAA" onerror="alert(1)') is None
    assert image_source("https://example.org/a.png") is None and image_source("a.png") is None


PATHOLOGICAL = {
    "brackets": "[", "closing brackets": "]", "bracket pairs": "[a", "nested brackets": None,
    "stars": "*", "underscores": "_", "star words": "*a ", "strong runs": "**a", "mixed emphasis": "*_",
    "backticks": "`", "code runs": "`a", "angles": "<", "angle links": "<http:", "link openers": "[](",
    "image openers": "![", "entities": "&", "backslashes": "\\", "dollars": "$a", "link titles": '[a](u "',
    "nested lists": "  - x\n", "nested quotes": ">", "quote lines": "> > > x\n", "table rows": "|\n",
    "lines": "a\n", "fences": "```\n", "spaces": "  a",
}


def _text(kind: str, length: int) -> str:
    if kind == "nested brackets":
        return "[" * (length // 2) + "]" * (length // 2)
    if kind == "nested lists":
        return "".join("  " * (i % 40) + "- x\n" for i in range(length // 40))[:length]
    if kind == "table rows":
        return ("|a|\n|-|\n" + "|\n" * length)[:length]
    unit = PATHOLOGICAL[kind]
    return (unit * (length // len(unit) + 1))[:length]


def _seconds(text: str) -> float:
    """One rendering. Past the default limit each is rendered afresh: text within it is rendered
    once, then read from a cache."""
    started = time.perf_counter()
    render_markdown(text, limit=len(text) + 1)
    return time.perf_counter() - started


def _ratio(text: str, baseline: str) -> float:
    """How many times honest text's time `text` takes, each measured right after the other, the
    lowest of three pairs: a busy machine slows a pair or two, not a whole kind."""
    return min(_seconds(text) / _seconds(baseline) for _ in range(3))


@pytest.mark.duration(60)
def test_pathological_markdown_renders_in_time_linear_in_its_length():
    """Does each pathological text of 100,000 characters (runs of `[`, `*`, `_`, backticks, `<`,
    nested lists and quotes, ...) render within a generous factor of honest prose of the same
    length (timed beside it), where a quadratic renderer takes hundreds to thousands of times longer?"""
    length = 100_000
    prose = "\n\n".join(_release_markdown())
    baseline = (prose * (length // len(prose) + 1))[:length]
    slow = {kind: round(_ratio(_text(kind, length), baseline), 1) for kind in PATHOLOGICAL}
    assert max(slow.values()) < 60, slow


def test_an_image_referenced_again_and_again_is_embedded_once():
    """One attachment (or one data: reference) named a thousand times: is its data on the page
    once, the other references saying so, so the page grows with the text and not with
    a thousand copies of the image?"""
    text = "![plot](attachment:a.png) " * 1000 + "\n\n" + "![again][d] " * 500 + "\n\n[d]: data:image/png;base64," + PNG
    html = render_markdown(text, {"a.png": {"image/png": PNG}})
    assert html.count(PNG) == 1  # the attachment and the data: reference hold the same picture
    assert html.count("the same image as above") == 1499
    assert len(html) < 200 * len(text.split("\n\n")[0]) // 1000 + 200_000


def test_a_long_answer_is_cut_and_the_page_says_so():
    """Is a 1 MB answer shown up to the cap, with a note naming its length and what is shown?"""
    html = render_markdown("word " * 200_000)
    assert html.count("word") == MAX_MARKDOWN_CHARS // 5
    assert "1,000,000 characters long; the first 100,000 are shown" in html


def _inert(nb, resources=None):
    return InertNotebook().preprocess(nb, resources if resources is not None else {})


def test_outputs_keep_text_and_images_and_drop_what_acts():
    """Are an output's HTML, SVG and JavaScript dropped (named, not shown), a PNG with broken base64
    dropped, an image's size kept only as numbers, and text kept?"""
    code = nbformat.v4.new_code_cell("show()")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": f"<script>{OWNED}</script>",
                                                     "application/javascript": OWNED}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": f"<svg><script>{OWNED}</script></svg>",
                                                     "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"image/png": PNG},
                               metadata={"image/png": {"width": '1 onerror="alert(1)"', "height": 40}}),
        nbformat.v4.new_output("display_data", data={"image/png": 'AAAA" onerror="alert(1)'}),
        nbformat.v4.new_output("stream", name="stdout", text="x" * 30_000),
    ]
    nb, _ = _inert(nbformat.v4.new_notebook(cells=[code]))
    html_only, figure, image, broken, stream = nb.cells[0].outputs
    assert dict(html_only.data) == {"text/plain": "[an output of type application/javascript, text/html: "
                                                  "pages show only text and images]"}
    assert dict(figure.data) == {"text/plain": "<Figure>"}
    assert image.data["image/png"] == PNG and image.metadata == {"image/png": {"height": 40}}
    assert "image/png" not in broken.data
    assert stream.text.endswith("[10,000 more characters not shown]")


def test_a_test_cells_partial_credit_is_read_in_words_not_as_a_bare_number():
    """A partly passed test cell holds its points as its value, for nbgrader's scoring; does the
    page show the verdict it printed and leave out the bare `Out[ ]: 1`, while a student's own
    cell keeps its value?"""
    test = nbformat.v4.new_code_cell("check_question('SQ', globals())", metadata={
        "nbgrader": {"grade": True, "solution": False, "grade_id": "test_SQ", "points": 3}})
    test.outputs = [nbformat.v4.new_output("stream", name="stdout", text="partly passed: SQ, 1 of 3\n"),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=None)]
    own = nbformat.v4.new_code_cell("1 + 0")
    own.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=3)]
    nb, _ = _inert(nbformat.v4.new_notebook(cells=[test, own]))
    assert [o.output_type for o in nb.cells[0].outputs] == ["stream"]
    assert "1 of 3" in nb.cells[0].outputs[0].text
    assert nb.cells[1].outputs[0].data["text/plain"] == "1"


def test_raw_cells_metadata_and_formgraders_values_are_made_text():
    """Is a raw HTML cell shown as code, cell tags and unknown metadata dropped, a grade id escaped,
    and the student name formgrader's template prints escaped?"""
    raw = nbformat.v4.new_raw_cell(f"<script>{OWNED}</script>", metadata={"raw_mimetype": "text/html"})
    answer = nbformat.v4.new_markdown_cell("answer", metadata={
        "tags": ['"><script>x</script>'], "grader": "total",
        "nbgrader": {"grade": True, "solution": True, "grade_id": 'q"><b>', "points": "1; drop"}})
    resources = {"student": "<img src=x onerror=alert(1)>", "notebook_path": 'a"b'}
    nb, resources = _inert(nbformat.v4.new_notebook(cells=[raw, answer]), resources)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == f"    <script>{OWNED}</script>"
    assert dict(nb.cells[1].metadata) == {"nbgrader": {"grade": True, "solution": True,
                                                       "grade_id": "q&quot;&gt;&lt;b&gt;", "points": None}}
    assert resources["student"] == "&lt;img src=x onerror=alert(1)&gt;" and resources["notebook_path"] == "a&quot;b"
    assert _inert(nb, resources)[0] is nb  # a second run changes nothing


def test_a_page_shows_graded_answers_first_within_its_budget():
    """When added cells exceed the page's budget, is the graded answer still shown whole, and
    does each cut cell say so?"""
    junk = [nbformat.v4.new_markdown_cell("x" * 90_000) for _ in range(5)]
    answer = nbformat.v4.new_markdown_cell("my answer", metadata={"nbgrader": {"solution": True, "grade": True,
                                                                                "grade_id": "explain_bug"}})
    nb, _ = _inert(nbformat.v4.new_notebook(cells=[*junk, answer]))
    assert nb.cells[-1].source == "my answer"
    shown = sum(len(cell.source) for cell in nb.cells if cell.source.startswith("x"))
    assert shown == PAGE_TEXT_CHARS - len("my answer")
    assert [cell.source for cell in nb.cells if cell.source.startswith("*This cell")][-1].startswith(
        "*This cell is 90,000 characters long; it is not shown")


def test_a_text_with_more_markup_than_a_page_shows_is_plain_text():
    """Does a text whose markdown would make thousands of elements (which formgrader's exporter
    parses again, one by one) show as plain text, and does the page's budget run out across cells?"""
    from grader.pages.markdown import ELEMENTS_LEFT, MAX_ELEMENTS, within_elements

    dense = "*a* " * (MAX_ELEMENTS // 2 + 1)
    assert within_elements(render_markdown(dense), dense, {}).startswith('<pre class="plain-markdown">*a* *a*')
    page = {ELEMENTS_LEFT: 30}
    assert within_elements(render_markdown("*a* " * 5), "*a* " * 5, page).startswith("<p><em>a</em>")
    assert page[ELEMENTS_LEFT] == 30 - 12  # each tag, opening or closing, counts
    within_elements(render_markdown("*a* " * 5), "*a* " * 5, page)
    assert "plain text" in within_elements(render_markdown("*a* " * 5), "*a* " * 5, page)


def test_colour_codes_in_outputs_stop_at_the_pages_budget():
    """Are an output's colour codes kept up to the page's budget and dropped after it?"""
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\x1b[31mred\x1b[0m"),
                    nbformat.v4.new_output("stream", name="stdout", text="\x1b[31mx\x1b[0m" * 3000)]
    nb, _ = _inert(nbformat.v4.new_notebook(cells=[code]))
    assert nb.cells[0].outputs[0].text == "\x1b[31mred\x1b[0m" and "\x1b" not in nb.cells[0].outputs[1].text
