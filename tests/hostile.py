"""A hostile notebook's texts, and a check that rendered HTML holds only what a page may hold.

Every vector of the threat model's "attacking the people who read" class that reaches a page
through a student's text: script, links and images to other places, raw HTML that loads or acts.
"""

from __future__ import annotations

from html.parser import HTMLParser

OWNED = "window.__owned = 1"  # what a script that ran would do; pages are checked for it
LINK_VECTORS = {
    "javascript link": "[click me](javascript:alert(1))",
    "mixed-case javascript": "[click me](JaVaScRiPt:alert(1))",
    "entity-encoded javascript": "[click me](&#x6A;avascript:alert(1))",
    "decimal entities": "[click me](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1))",
    "tab inside scheme": "[click me](<java\tscript:alert(1)>)",
    "vbscript link": "[click me](vbscript:msgbox(1))",
    "data html link": "[click me](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data link with html": "[click me](<data:text/html,<script>alert(1)</script>>)",
    "relative link": "[click me](../../gradebook.db)",
    "protocol-relative link": "[click me](//evil.example/x)",
    "file link": "[click me](file:///etc/passwd)",
    "javascript autolink": "<javascript:alert(1)>",
    "javascript reference": "[click me][bad]\n\n[bad]: javascript:alert(1)",
    "javascript shortcut reference": "[click me]\n\n[click me]: JAVASCRIPT:alert(1)",
    "raw anchor": '<a href="javascript:alert(1)">click me</a>',
}
LOAD_VECTORS = {
    "remote image": "![x](https://evil.example/pixel.png)",
    "protocol-relative image": "![x](//evil.example/pixel.png)",
    "relative image": "![x](files/secret.png)",
    "svg data image": "![x](data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD48L3N2Zz4=)",
    "img onerror": "<img src=x onerror=\"alert(1)\">",
    "script": f"<script>{OWNED}</script>",
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "form": '<form action="https://evil.example/"><input type="submit" value="Grade"></form>',
    "svg script": f"<svg><script>{OWNED}</script></svg>",
    "style url": "<style>body { background: url(https://evil.example/bg.png) }</style>",
    "inline style url": '<div style="background:url(https://evil.example/bg.png)">x</div>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "base href": '<base href="https://evil.example/">',
    "object": '<object data="https://evil.example/x.swf"></object>',
    "link stylesheet": '<link rel="stylesheet" href="https://evil.example/x.css">',
    "html comment": "<!-- hide the rest",
}
VECTORS = {**LINK_VECTORS, **LOAD_VECTORS}
HOSTILE_MARKDOWN = "\n\n".join(f"{name}: {text}" for name, text in VECTORS.items())

ALLOWED_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "code", "pre", "br", "hr",
                "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "img",
                "span", "div", "input"}
ALLOWED_ATTRIBUTES = {"id", "class", "href", "rel", "src", "alt", "start", "style", "type", "disabled", "checked"}


def unsafe_parts(html: str) -> list[str]:
    """Everything in `html` a page may not hold: other tags, event handlers, links other than
    http(s)/mailto/#, images other than data: rasters, styles other than text alignment."""
    found: list[str] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in ALLOWED_TAGS:
                found.append(f"tag {tag}")
            for name, value in attrs:
                value = value or ""
                if name not in ALLOWED_ATTRIBUTES:
                    found.append(f"attribute {name}={value!r} on {tag}")
                elif name == "href" and not value.lower().startswith(("http://", "https://", "mailto:", "#")):
                    found.append(f"link {value!r}")
                elif name == "src" and not value.startswith(("data:image/png;base64,", "data:image/jpeg;base64,",
                                                              "data:image/gif;base64,")):
                    found.append(f"image {value!r}")
                elif name == "style" and not value.startswith("text-align:"):
                    found.append(f"style {value!r}")
                elif name == "type" and (tag != "input" or value != "checkbox"):
                    found.append(f"type {value!r} on {tag}")

        def handle_comment(self, data):
            found.append("comment")

    Collector(convert_charrefs=True).feed(html)
    return found
