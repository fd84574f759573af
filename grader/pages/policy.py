"""Each page's Content-Security-Policy: what it may load, written once for every page the kit makes."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

__all__ = ["STATIC_PAGE", "policy_for", "page_head", "formgrader_policy", "MATHJAX_STAND_IN"]

# A page that stands alone (feedback, the class report): inline styles and data: images, nothing
# fetched, no script, no form, no <base>. A `javascript:` link is inline script, so it is blocked too.
STATIC_PAGE = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
# Formgrader's grading view runs formgrader's own scripts and stylesheets (its server's, 'self'),
# calls its API ('self') and loads bootstrap's glyph font; inline, only formgrader's own scripts
# and handlers run, by their hashes (see formgrader_policy).
_FORMGRADER = ("default-src 'none'; script-src 'self' 'unsafe-hashes' {hashes}; style-src 'self' 'unsafe-inline'; "
               "img-src data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'")
# Formgrader's script waits for MathJax's start-up signal before it focuses the first score box;
# the kit's pages load no MathJax (math shows as text), so this stands in for it and signals at once.
MATHJAX_STAND_IN = ("window.MathJax = {Hub: {Queue: function () {}, Startup: {signal: {Interest: "
                    "function (listener) { setTimeout(function () { listener('End'); }, 0); }}}}};")
_INLINE_SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.S)
_HANDLER = re.compile(r'\son[a-z]+="([^"]*)"')


def policy_for(page: str) -> str:
    """The policy of a page kind: `static` (feedback, report) or `formgrader`."""
    return formgrader_policy() if page == "formgrader" else STATIC_PAGE


def page_head(page: str) -> str:
    """What the kit puts in a page's head, before anything the policy governs: the policy, and on
    formgrader's page the stand-in for MathJax."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy_for(page)}">'
    return meta + (f"<script>{MATHJAX_STAND_IN}</script>" if page == "formgrader" else "")


@lru_cache(maxsize=1)
def formgrader_policy() -> str:
    """The grading view's policy, with the hash of each inline script and event handler that
    nbgrader's formgrade templates write without template values (the others run before the
    policy in the page's head). Read from the installed templates, so the hashes follow nbgrader."""
    from grader.nbgrader_package import formgrader_templates

    hashes = {_hash(MATHJAX_STAND_IN)}
    for template in sorted((Path(formgrader_templates()) / "formgrade").glob("*.j2")):
        source = template.read_text(encoding="utf-8")
        for code in [*_INLINE_SCRIPT.findall(source), *_HANDLER.findall(source)]:
            if code.strip() and "{{" not in code and "{%" not in code:
                hashes.add(_hash(code))
    return _FORMGRADER.format(hashes=" ".join(sorted(hashes)))


def _hash(script: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode('utf-8')).digest()).decode()}'"
