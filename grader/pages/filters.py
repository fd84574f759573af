"""The Jinja filters the course config gives nbconvert (`HTMLExporter.filters`) for every page
of a notebook: markdown, code and the page's policy go through the kit's bounded, safe renderers."""

from __future__ import annotations

from jinja2 import pass_context

from grader.pages.highlight import highlight_code
from grader.pages.markdown import render_markdown, within_elements
from grader.pages.policy import page_head

__all__ = ["markdown2html", "highlight_code", "page_policy", "PAGE_FILTERS"]


@pass_context
def markdown2html(context, source) -> str:
    """nbconvert's markdown2html: a cell's markdown (with its attachments), a TA's comment or a
    markdown output, as safe HTML."""
    cell = context.get("cell") or {}
    attachments = cell.get("attachments") if isinstance(cell, dict) else None
    text = source if isinstance(source, str) else ""
    return within_elements(render_markdown(text, attachments), text, context.get("resources"))


def page_policy(page: str) -> str:
    """`{{ "static" | page_policy }}`: the page's Content-Security-Policy as a meta element (and
    what formgrader's page needs beside it)."""
    return page_head(page)


# By import name: the course config's values stay plain strings for nbgrader's --help.
PAGE_FILTERS = {
    "markdown2html": "grader.pages.filters.markdown2html",
    "highlight_code": "grader.pages.filters.highlight_code",
    "page_policy": "grader.pages.filters.page_policy",
}
