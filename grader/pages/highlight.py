"""Python code as highlighted HTML, bounded: Pygments' Python lexer on at most so many characters.

nbconvert highlights with the notebook's own lexer (ipython3 for the kit's notebooks), whose
help-syntax rule takes time quadratic in a line of dots (8,000 dots: about two seconds); the
Python lexer has no such rule and colours the same tokens but IPython's `%magic` and `!shell`
lines. Even so Pygments spends tens of microseconds on a character of dense code (and
formgrader's view parses every element it makes again), so a cell longer than
MAX_HIGHLIGHT_CHARS is shown as plain preformatted text, and so is every cell after a page has
highlighted PAGE_HIGHLIGHT_CHARS (see grader.pages.notebook). The same source is highlighted
once per process: a class's pages share most of their cells.
"""

from __future__ import annotations

from functools import lru_cache

from grader.pages.safe import escape_text

__all__ = ["highlight_python", "highlight_code", "is_python", "plain_code", "MAX_HIGHLIGHT_CHARS",
           "PAGE_HIGHLIGHT_CHARS", "CSS_CLASS"]

MAX_HIGHLIGHT_CHARS = 10_000
PAGE_HIGHLIGHT_CHARS = 20_000  # about four times an honest page's code
CSS_CLASS = "highlight hl-python"
PYTHON_NAMES = frozenset({"python", "python3", "py", "ipython", "ipython3", "py3"})
PLAIN = "plain"  # a cell's metadata["grader"][PLAIN]: show it without highlighting


def is_python(language: str | None) -> bool:
    return (language or "").lower() in PYTHON_NAMES


def highlight_code(source: str, language: str | None = None, metadata: dict | None = None) -> str:
    """nbconvert's `highlight_code` filter, bounded: every code cell as Python."""
    grader = (metadata or {}).get("grader")
    if isinstance(grader, dict) and grader.get(PLAIN):
        return plain_code(source)
    return highlight_python(source)


def highlight_python(source: str) -> str:
    if len(source) > MAX_HIGHLIGHT_CHARS:
        return plain_code(source)
    return _highlighted(source)


def plain_code(source: str) -> str:
    """The same box as highlighted code, without colours."""
    return f'<div class="{CSS_CLASS}"><pre><span></span>{escape_text(source)}</pre></div>\n'


@lru_cache(maxsize=8192)
def _highlighted(source: str) -> str:
    from pygments import highlight

    # Brackets as entities, as in all text the kit renders (see grader.pages.safe): Pygments emits
    # none in its own markup, and a code block in markdown goes through strip_files_prefix.
    return highlight(source, _lexer(), _formatter()).replace("[", "&#91;").replace("]", "&#93;")


@lru_cache(maxsize=1)
def _lexer():
    from pygments.lexers import PythonLexer

    return PythonLexer()


@lru_cache(maxsize=1)
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass=CSS_CLASS)
