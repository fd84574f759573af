"""A page opened the way a TA or student opens it, in Debian's Chromium, with every request and
every click watched: what ran, what was fetched, where each link went."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Seen by the page before any of its own scripts: the policy's refusals are collected (an init
# script is the browser's own, not the page's). A student's script would set window.__owned.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""


def chromium_path() -> Path:
    """Debian's Chromium, installed with apt when it is missing (the browser tests are never skipped)."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=1200)
    assert CHROMIUM.exists(), "the browser tests need Debian's chromium: apt-get install chromium"
    return CHROMIUM


@dataclass
class Visit:
    """What happened while a page was open and each of its links was clicked."""

    requests: list[str] = field(default_factory=list)  # every URL the browser asked for
    navigations: list[str] = field(default_factory=list)  # documents it asked for (clicks, refreshes)
    dialogs: list[str] = field(default_factory=list)
    hrefs: list[str] = field(default_factory=list)  # of the links clicked
    owned: bool = False  # a student's script ran
    violations: list[str] = field(default_factory=list)  # what the page's policy refused
    console: list[str] = field(default_factory=list)  # the page's errors and warnings
    policy: str | None = None


def open_and_click(browser, url: str, links: str, allowed_origin: str | None = None, before_clicks=None,
                   headers: dict | None = None) -> Visit:
    """Open `url`, run `before_clicks(page)` if given, then click every link matching the CSS
    selector `links`, one at a time (reopening the page after a link that navigates away).
    Requests to `allowed_origin` (a server's own files) go through; every other request is
    recorded and refused, so nothing leaves the machine. `headers` go with every request (a
    TA's session on a server)."""
    visit = Visit()
    context = browser.new_context(extra_http_headers=headers)
    context.add_init_script(WATCH)
    page = context.new_page()
    page.on("dialog", lambda dialog: (visit.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: message.type in ("error", "warning") and visit.console.append(message.text))
    page.on("pageerror", lambda error: visit.console.append(f"error: {error}"))
    page.on("response", lambda response: response.status >= 400 and visit.console.append(f"{response.status} {response.url}"))

    def route(route_):
        request = route_.request
        visit.requests.append(request.url)
        if request.is_navigation_request() and request.frame == page.main_frame:
            visit.navigations.append(request.url)
        if request.url.startswith(("file:", "data:")) or (allowed_origin and request.url.startswith(allowed_origin)):
            route_.continue_()
        else:
            route_.abort()

    context.route("**/*", route)
    try:
        page.goto(url)
        visit.policy = page.evaluate(
            "document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')?.content ?? null")
        if before_clicks:
            try:
                before_clicks(page)
            except Exception as exc:
                raise AssertionError(f"{exc}\nconsole: {visit.console}\nrequests: {visit.requests}") from exc
        visit.hrefs = page.eval_on_selector_all(links, "links => links.map(a => a.getAttribute('href') || '')")
        for index, href in enumerate(visit.hrefs):
            link = page.locator(links).nth(index)
            link.scroll_into_view_if_needed(timeout=5000)
            link.click(timeout=5000, no_wait_after=True)
            page.wait_for_timeout(50 if href.startswith("#") else 500)  # a navigation, if any, has begun
            _collect(page, visit)
            if not href.startswith("#") or urldefrag(page.url).url != urldefrag(url).url:
                page.goto(url)  # back on the page for the next link
        _collect(page, visit)
    finally:
        context.close()
    return visit


def _collect(page, visit: Visit) -> None:
    try:
        state = page.evaluate("({owned: window.__owned === 1 || document.title === 'owned', violations: window.__violations || []})")
    except Exception:  # the page is navigating away; it is reopened and looked at again
        return
    visit.owned = visit.owned or state["owned"]
    visit.violations += [v for v in state["violations"] if v not in visit.violations]

