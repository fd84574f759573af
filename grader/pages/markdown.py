"""Markdown as nbconvert renders it in a notebook (CommonMark with tables, strikethrough, task
lists and math as text), to safe HTML in time linear in its length, with a cap.

Raw HTML is text, links go only to http(s), mailto and #fragments, images load only from the
cell's attachments or data: URIs, and nothing else can reach the page (see grader.pages.safe).
Blocks are read line by line; a container (quote, list item) re-reads only its own lines, and
containers nest at most MAX_DEPTH deep, after which a marker is text: each character is looked
at a bounded number of times.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote

from grader.pages.highlight import highlight_python, is_python
from grader.pages.inline import normalise_label, render_inline
from grader.pages.safe import escape_text

__all__ = ["render_markdown", "within_elements", "cut_note", "MAX_MARKDOWN_CHARS", "MAX_DEPTH",
           "MAX_ELEMENTS", "PAGE_ELEMENTS", "ELEMENTS_LEFT"]

MAX_MARKDOWN_CHARS = 100_000
# Elements (tags) that one text and all of a page's texts may add. nbconvert's HTMLExporter, which
# formgrader's view uses, parses each finished page again with BeautifulSoup at some tens of
# microseconds an element; a text that would add more shows as plain text. (The release's own
# markdown adds about 600.)
MAX_ELEMENTS = 5_000
PAGE_ELEMENTS = 10_000
ELEMENTS_LEFT = "grader_elements_left"  # in a page's resources, set by InertNotebook
MAX_DEPTH = 8
MAX_COLUMNS = 64
MAX_ID = 200
ANCHOR_LINK_TEXT = "¶"

_FENCE = re.compile(r" {0,3}+(`{3,}+|~{3,}+)[ \t]*+([^`\s]*+)[^`]*+")
_ATX = re.compile(r" {0,3}+(#{1,6}+)(?=[ \t]|$)")
_RULE = re.compile(r" {0,3}+([-*_])(?:[ \t]*+\1){2,}+[ \t]*+")
_SETEXT = re.compile(r" {0,3}+(=++|-++)[ \t]*+")
_QUOTE = re.compile(r" {0,3}+> ?+")
_ITEM = re.compile(r"( {0,3}+)([-+*]|[0-9]{1,9}+[.)])([ \t]++|$)")
_TASK = re.compile(r"\[([ xX])\][ \t]++")
_REFERENCE = re.compile(r" {0,3}+\[([^\[\]]{1,999}+)\]:[ \t]*+<?+([^\s<>]++)>?+(?:[ \t]++(?:\"[^\"]*+\"|'[^']*+'|\([^()]*+\)))?+[ \t]*+")
_TABLE_DELIMITER = re.compile(r" {0,3}+\|?+[ \t]*+:?+-++:?+[ \t]*+(?:\|[ \t]*+:?+-++:?+[ \t]*+)*+\|?+[ \t]*+")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_TAG = re.compile(r"<[^<>]*+>")


def render_markdown(text: str, attachments: dict | None = None, *, limit: int = MAX_MARKDOWN_CHARS) -> str:
    """`text` as safe HTML; past `limit` characters it is cut, and the page says so."""
    if not attachments and limit == MAX_MARKDOWN_CHARS:
        return _rendered(text)  # a class's pages share most of their markdown
    return _render(text, attachments, limit)


@lru_cache(maxsize=4096)
def _rendered(text: str) -> str:
    return _render(text, None, MAX_MARKDOWN_CHARS)


def _render(text: str, attachments: dict | None, limit: int) -> str:
    shown = text if len(text) <= limit else text[:limit]
    lines = shown.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n")
    parser = _Blocks()
    blocks = parser.parse(lines, 0)
    renderer = _Renderer(parser.refs, attachments)
    body = "".join(renderer.block(b) for b in blocks)
    return body + (cut_note(len(text), limit) if len(text) > limit else "")


def within_elements(html: str, text: str, resources) -> str:
    """`html` (the rendering of `text`) if it adds no more elements than the text and the page may
    add, else the text as plain preformatted text, saying why; spends the page's budget."""
    elements = html.count("<")
    left = resources.get(ELEMENTS_LEFT) if isinstance(resources, dict) else None
    if elements <= MAX_ELEMENTS and (left is None or elements <= left):
        if left is not None:
            resources[ELEMENTS_LEFT] = left - elements
        return html
    shown = text[:MAX_MARKDOWN_CHARS]
    return (f'<pre class="plain-markdown">{escape_text(shown)}</pre>\n<p class="cut-note"><em>This text is shown '
            "as plain text: its markdown makes more elements than a page shows.</em></p>\n"
            + (cut_note(len(text), len(shown)) if len(shown) < len(text) else ""))


def cut_note(length: int, shown: int) -> str:
    """What a page says where it stops showing a long text."""
    return (f'<p class="cut-note"><em>This text is {length:,} characters long; the first {shown:,} are '
            f"shown here. The whole text is in the notebook.</em></p>")


@dataclass
class _Block:
    kind: str  # heading | paragraph | code | rule | quote | list | table | math
    text: str = ""
    level: int = 0  # heading level; list: start number (ordered) or 0
    language: str = ""
    children: list = field(default_factory=list)  # quote: blocks; list: (task state, blocks) per item
    ordered: bool = False
    tight: bool = True
    rows: list = field(default_factory=list)  # table: header row, then body rows; each a list of cell texts
    aligns: list = field(default_factory=list)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return not line.strip()


class _Blocks:
    """Lines to blocks; reference definitions are collected for the whole text."""

    def __init__(self):
        self.refs: dict[str, str] = {}

    def parse(self, lines: list[str], depth: int) -> list[_Block]:
        blocks: list[_Block] = []
        paragraph: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if _blank(line):
                self.flush(paragraph, blocks)
                i += 1
            elif _indent(line) >= 4 and not paragraph:
                i = self.indented_code(lines, i, blocks)
            elif paragraph and _SETEXT.fullmatch(line):
                blocks.append(_Block("heading", self.flush(paragraph), level=1 if "=" in line else 2))
                i += 1
            elif kind := self.starts(line, depth, bool(paragraph)):
                self.flush(paragraph, blocks)
                i = getattr(self, kind)(lines, i, depth, blocks)
            elif not paragraph and (reference := _REFERENCE.fullmatch(line)):
                self.refs.setdefault(normalise_label(reference.group(1)), reference.group(2))
                i += 1
            elif not paragraph and (end := self.table(lines, i, blocks)):
                i = end
            else:
                paragraph.append(line.strip())
                i += 1
        self.flush(paragraph, blocks)
        return blocks

    @staticmethod
    def flush(paragraph: list[str], blocks: list[_Block] | None = None) -> str:
        """The paragraph's text (appended to blocks as a paragraph, if given), and an empty paragraph."""
        text = "\n".join(paragraph)
        if paragraph and blocks is not None:
            blocks.append(_Block("paragraph", text))
        paragraph.clear()
        return text

    @staticmethod
    def starts(line: str, depth: int, in_paragraph: bool) -> str | None:
        """The kind of block line starts, if it starts one (containers only up to MAX_DEPTH)."""
        if _FENCE.fullmatch(line):
            return "fenced_code"
        if _ATX.match(line):
            return "heading"
        if _RULE.fullmatch(line):
            return "rule"
        if line.lstrip(" ").startswith("$$"):
            return "math"
        if depth < MAX_DEPTH and _QUOTE.match(line):
            return "quote"
        item = _ITEM.match(line) if depth < MAX_DEPTH else None
        # a list interrupts a paragraph only with a bullet or a 1, and something after it
        if item and (not in_paragraph or (item.group(2) in ("-", "+", "*", "1.", "1)") and line[item.end():].strip())):
            return "list"
        return None

    def heading(self, lines: list[str], i: int, depth: int, blocks: list[_Block]) -> int:
        marks = _ATX.match(lines[i])
        text = lines[i][marks.end():].strip()
        closing = text.rstrip("#")
        if closing != text and (not closing or closing[-1] in " \t"):  # a closing run of #, after a space
            text = closing.strip()
        blocks.append(_Block("heading", text, level=len(marks.group(1))))
        return i + 1

    def rule(self, lines: list[str], i: int, depth: int, blocks: list[_Block]) -> int:
        blocks.append(_Block("rule"))
        return i + 1

    def indented_code(self, lines: list[str], i: int, blocks: list[_Block]) -> int:
        body = []
        while i < len(lines) and (_blank(lines[i]) or _indent(lines[i]) >= 4):
            body.append(lines[i][4:])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        blocks.append(_Block("code", "\n".join(body) + "\n"))
        return i

    def fenced_code(self, lines: list[str], i: int, depth: int, blocks: list[_Block]) -> int:
        fence = _FENCE.fullmatch(lines[i])
        marker, indent = fence.group(1), _indent(lines[i])
        closing = re.compile(r" {0,3}+" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}+[ \t]*+")
        body, i = [], i + 1
        while i < len(lines) and not closing.fullmatch(lines[i]):
            body.append(lines[i][min(indent, _indent(lines[i])):])
            i += 1
        blocks.append(_Block("code", "\n".join(body) + ("\n" if body else ""), language=fence.group(2)))
        return i + 1

    def math(self, lines: list[str], i: int, depth: int, blocks: list[_Block]) -> int:
        """`$$ ... $$` over one or more lines, kept as text (no markdown inside)."""
        body = [lines[i].strip()]
        i += 1
        while not (len(body[0]) > 2 and body[-1].endswith("$$")) and i < len(lines):
            body.append(lines[i])
            i += 1
            if "$$" in body[-1]:
                break
        blocks.append(_Block("math", "\n".join(body)))
        return i

    def quote(self, lines: list[str], i: int, depth: int, blocks: list[_Block]) -> int:
        inner = []
        while i < len(lines) and (marker := _QUOTE.match(lines[i])):
            inner.append(lines[i][marker.end():])
            i += 1
        blocks.append(_Block("quote", children=self.parse(inner, depth + 1)))
        return i

    def list(self, lines: list[str], i: int, depth: int, blocks: list[_Block]) -> int:
        first = _ITEM.match(lines[i])
        kind, ordered = first.group(2)[-1], first.group(2)[-1] in ".)"
        block = _Block("list", ordered=ordered, level=int(first.group(2)[:-1]) if ordered else 0)
        while i < len(lines) and (item := _ITEM.match(lines[i])) and item.group(2)[-1] == kind:
            i, gap = self.list_item(lines, i, item, depth, block)
            if gap and i < len(lines) and (after := _ITEM.match(lines[i])) and after.group(2)[-1] == kind:
                block.tight = False  # blank lines between items
        blocks.append(block)
        return i

    def list_item(self, lines: list[str], i: int, item: re.Match, depth: int, block: _Block) -> tuple[int, bool]:
        """One item's lines, dedented to its content; returns the next line and whether the item
        ended with blank lines."""
        spacing = item.group(3)
        gap = len(spacing) if 0 < len(spacing) <= 4 else 1  # five spaces or more: indented code after one
        width = len(item.group(1)) + len(item.group(2)) + gap
        content, blanks = [lines[i][len(item.group(1)) + len(item.group(2)) + gap:]], 0
        written = bool(content[0].strip())
        i += 1
        while i < len(lines):
            line = lines[i]
            if _blank(line):
                content.append("")
                blanks += 1
            elif _indent(line) >= width:
                if blanks and written:
                    block.tight = False  # blank lines between blocks of one item
                content.append(line[width:])
                blanks, written = 0, True
            elif not blanks and written and not _interrupts(line):
                content.append(line.strip())  # a lazy continuation of the item's paragraph
            else:
                break
            i += 1
        if blanks:
            del content[-blanks:]
        task = _TASK.match(content[0])
        if task:
            content[0] = content[0][task.end():]
        block.children.append((task.group(1) if task else None, self.parse(content, depth + 1)))
        return i, blanks > 0

    @staticmethod
    def table(lines: list[str], i: int, blocks: list[_Block]) -> int | None:
        """A GFM table (a header row, a delimiter row, rows until a blank line): the line after it."""
        if i + 1 >= len(lines) or "|" not in lines[i] or not _TABLE_DELIMITER.fullmatch(lines[i + 1]):
            return None
        aligns = [_align(cell) for cell in _cells(lines[i + 1])]
        head = _cells(lines[i])
        if len(aligns) > MAX_COLUMNS or len(head) != len(aligns):
            return None
        rows, j = [head], i + 2
        while j < len(lines) and "|" in lines[j] and not _blank(lines[j]) and not _interrupts(lines[j]):
            cells = _cells(lines[j])[:len(aligns)]
            rows.append(cells + [""] * (len(aligns) - len(cells)))
            j += 1
        blocks.append(_Block("table", rows=rows, aligns=aligns))
        return j


def _interrupts(line: str) -> bool:
    """Whether a line ends a lazy continuation or a table: it starts a block of its own."""
    return bool(_Blocks.starts(line, 0, True) or _ITEM.match(line))


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(row)]


def _align(cell: str) -> str:
    left, right = cell.startswith(":"), cell.endswith(":")
    return "center" if left and right else "right" if right else "left" if left else ""


class _Renderer:
    def __init__(self, refs: dict[str, str], attachments: dict | None):
        self.refs, self.attachments = refs, attachments
        self.images: set[str] = set()  # each image one text shows is embedded once (see render_inline)

    def inline(self, text: str) -> str:
        return render_inline(text, self.refs, self.attachments, self.images)

    def block(self, block: _Block, tight: bool = False) -> str:
        return getattr(self, block.kind)(block, tight)

    def paragraph(self, block: _Block, tight: bool) -> str:
        inner = self.inline(block.text)
        return inner if tight else f"<p>{inner}</p>\n"

    def heading(self, block: _Block, tight: bool) -> str:
        inner = self.inline(block.text)
        anchor = _heading_id(inner)
        return (f'<h{block.level} id="{anchor}">{inner}<a class="anchor-link" href="#{anchor}">'
                f"{ANCHOR_LINK_TEXT}</a></h{block.level}>\n")

    def code(self, block: _Block, tight: bool) -> str:
        if is_python(block.language):
            return highlight_python(block.text)
        return f"<pre><code>{escape_text(block.text)}</code></pre>\n"

    def rule(self, block: _Block, tight: bool) -> str:
        return "<hr>\n"

    def math(self, block: _Block, tight: bool) -> str:
        return f'<p class="math">{escape_text(block.text)}</p>\n'

    def quote(self, block: _Block, tight: bool) -> str:
        return "<blockquote>\n" + "".join(self.block(child) for child in block.children) + "</blockquote>\n"

    def list(self, block: _Block, tight: bool) -> str:
        tag = "ol" if block.ordered else "ul"
        start = f' start="{block.level}"' if block.ordered and block.level != 1 else ""
        items = []
        for task, children in block.children:
            inner = "".join(self.block(child, block.tight) for child in children)
            if task is None:
                items.append(f"<li>{inner}</li>\n")
            else:
                checked = " checked" if task in "xX" else ""
                items.append(f'<li class="task-list-item"><input class="task-list-item-checkbox" type="checkbox" '
                             f"disabled{checked}>{inner}</li>\n")
        return f"<{tag}{start}>\n" + "".join(items) + f"</{tag}>\n"

    def table(self, block: _Block, tight: bool) -> str:
        def row(cells: list[str], tag: str) -> str:
            return "<tr>" + "".join(f"<{tag}{_style(align)}>{self.inline(cell)}</{tag}>"
                                    for cell, align in zip(cells, block.aligns, strict=True)) + "</tr>\n"
        head, *body = block.rows
        return ("<table>\n<thead>\n" + row(head, "th") + "</thead>\n<tbody>\n"
                + "".join(row(cells, "td") for cells in body) + "</tbody>\n</table>\n")


def _style(align: str) -> str:
    return f' style="text-align:{align}"' if align else ""


def _heading_id(inner_html: str) -> str:
    """The id nbconvert gives a heading (its text, spaces as dashes, URL-quoted), as an attribute."""
    text = html.unescape(_TAG.sub("", inner_html))[:MAX_ID]
    return escape_text(quote(text.replace(" ", "-"), safe="?/:@!$&'()*+,;="))
