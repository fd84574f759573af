"""What student text may become on a page: escaped text, and the only links and images allowed."""

from __future__ import annotations

import html
import re

__all__ = ["escape_text", "link_target", "image_source", "data_uri", "IMAGE_TYPES", "LINK_SCHEMES"]

# Every character that could start markup, an entity or an attribute, and the brackets: nbconvert's
# strip_files_prefix runs a lazy `\[(.*?)\]\(` over the rendered markdown, quadratic on a line of
# many `[`, so rendered text never contains one.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
                          "[": "&#91;", "]": "&#93;", "\0": "\ufffd"})
LINK_SCHEMES = ("http", "https", "mailto")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")  # raster only: no SVG, which can hold script
MAX_IMAGE_BASE64 = 4 * 1024 * 1024
# Characters a browser drops or ignores inside a URL (controls, whitespace), so `java\tscript:`
# is javascript: to it and must be to the check as well.
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\ufeff]++")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}+):")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*+={0,2}+")
_DATA_IMAGE = re.compile(r"data:(image/[a-z]{3,4}+);base64,", re.IGNORECASE)


def escape_text(text: str) -> str:
    """Text as HTML text or an attribute value: nothing in it is markup."""
    return text.translate(_ESCAPES)


def link_target(url: str) -> str | None:
    """The URL a link may point to (http, https, mailto or a #fragment of the page), or None.

    Entities are decoded first, as a browser decodes them in an attribute, and characters a
    browser ignores are dropped, so no spelling of `javascript:` (mixed case, `&#x6A;`, a tab
    inside) gets through. A relative URL is refused: on a formgrader page it would reach the
    TA's own Jupyter server.
    """
    decoded = _IGNORED_IN_URL.sub("", html.unescape(url))
    if decoded.startswith("#"):
        return decoded
    scheme = _SCHEME.match(decoded)
    if scheme and scheme.group(1).lower() in LINK_SCHEMES:
        rest = decoded[scheme.end():]
        if scheme.group(1).lower() == "mailto" or rest.startswith("//"):
            return scheme.group(1).lower() + ":" + rest
    return None


def image_source(url: str, attachments: dict | None = None) -> str | None:
    """A data: URI for an image that loads nothing: an attachment of the cell or an inline
    data: URI, of a raster type, with well-formed base64; None for anything else (a remote or
    relative image, SVG, malformed data)."""
    decoded = _IGNORED_IN_URL.sub("", html.unescape(url))
    if decoded.lower().startswith("attachment:"):
        bundle = (attachments or {}).get(decoded[len("attachment:"):])
        if not isinstance(bundle, dict):
            return None
        for mime in IMAGE_TYPES:
            if isinstance(bundle.get(mime), str):
                return data_uri(mime, bundle[mime])
        return None
    match = _DATA_IMAGE.match(decoded)
    if match and match.group(1).lower() in IMAGE_TYPES:
        return data_uri(match.group(1).lower(), decoded[match.end():])
    return None


def data_uri(mime: str, payload: str) -> str | None:
    """`data:<mime>;base64,<payload>` when the payload is base64 of a bounded size (newlines
    allowed, as nbformat stores them), else None."""
    payload = "".join(payload.split()) if len(payload) <= MAX_IMAGE_BASE64 * 2 else ""
    if not payload or len(payload) > MAX_IMAGE_BASE64 or len(payload) % 4 or not _BASE64.fullmatch(payload):
        return None
    return f"data:{mime};base64,{payload}"
