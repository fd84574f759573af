"""Markdown inside a paragraph, heading or table cell, to safe HTML in one left-to-right pass.

Every step consumes input or finishes a piece made earlier, and no step looks further than the
next special character (code spans and math find their closer through a table built in one
pass; link labels and alt texts are bounded), so the time is linear in the text's length. The
output holds only escaped text and the tags made here: em, strong, del, code, br, a (to the
targets safe.link_target allows) and img (data: URIs from safe.image_source).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from grader.pages.safe import escape_text, image_source, link_target

__all__ = ["render_inline", "normalise_label", "LINK_ATTRIBUTES"]

LINK_ATTRIBUTES = 'rel="noopener noreferrer nofollow"'
MAX_LABEL = 999  # CommonMark's longest link label
MAX_ALT = 200
MAX_REMOVED = 60  # characters of a refused address shown to the reader

# Possessive quantifiers throughout: no pattern here can backtrack into its own input.
_SPECIAL = re.compile(r"""
    (?P<code>`++)
  | (?P<math>\$\$?+)
  | (?P<escape>\\[!-/:-@\[-`{-~])
  | (?P<newline>\\?+\n)
  | (?P<image>!\[)
  | (?P<open>\[)
  | (?P<close>\])
  | (?P<angle><)
  | (?P<delim>\*++|_++|~~++)
  | (?P<entity>&(?:\#[0-9]{1,7}+|\#[xX][0-9a-fA-F]{1,6}+|[A-Za-z][A-Za-z0-9]{0,31}+);)
  | (?P<url>(?<![\w/@.:-])(?:https?://|www\.))
""", re.VERBOSE)
_INLINE_LINK = re.compile(r"""
    \(\ *+\n?\ *+
    (?P<dest><[^<>\n]*+>|[^\s()<>]*+(?:\([^\s()<>]*+\)[^\s()<>]*+)?+)
    (?:\s++(?:"[^"\n]*+"|'[^'\n]*+'|\([^()\n]*+\)))?+
    \ *+\n?\ *+\)
""", re.VERBOSE)
_FULL_REFERENCE = re.compile(r"\[([^\[\]]{0,999}+)\]")
_AUTOLINK = re.compile(r"<((?:[Hh][Tt][Tt][Pp][Ss]?+|[Mm][Aa][Ii][Ll][Tt][Oo]):[^\s<>]*+|[\w.+-]++@[\w-]++(?:\.[\w-]++)++)>")
_BARE_URL = re.compile(r"(?:https?://|www\.)[^\s<>]*+")
_BARE_URL_TRAILER = ".,:;!?\"'*_~)"
_RUNS = {"`": re.compile(r"`++"), "$": re.compile(r"\$++")}


def normalise_label(label: str) -> str:
    """A reference label as CommonMark matches it: case and runs of whitespace do not count."""
    return " ".join(label.split()).casefold()


def render_inline(text: str, refs: dict[str, str] | None = None, attachments: dict | None = None,
                  images: set[str] | None = None) -> str:
    """`text` (markdown inline content) as safe HTML. Each image is embedded once per `images`
    (the sources a text has shown so far): one attachment or data: reference repeated a
    thousand times would otherwise copy its bytes a thousand times into the page."""
    if _SPECIAL.search(text) is None:
        return escape_text(text)
    return _Inline(text, refs or {}, attachments, images if images is not None else set()).render()


class _Delimiter:
    """A run of `*`, `_` or `~~`: literal characters until emphasis claims some of them.

    A plain class with slots and no list until a tag needs one: a pathological text makes one
    for every character, and each allocation more was a collector's pass more.
    """

    __slots__ = ("char", "count", "can_open", "can_close", "order", "opens", "closes")

    def __init__(self, char: str, count: int, can_open: bool, can_close: bool, order: int):
        self.char, self.count, self.can_open, self.can_close, self.order = char, count, can_open, can_close, order
        self.opens = self.closes = None  # tags claimed, innermost first (lists, once there is one)

    def claim(self, tag: str, opening: bool) -> None:
        if opening:
            self.opens = self.opens or []
            self.opens.append(tag)
        else:
            self.closes = self.closes or []
            self.closes.append(tag)

    def __str__(self) -> str:
        opens = "".join(f"<{tag}>" for tag in reversed(self.opens)) if self.opens else ""
        closes = "".join(f"</{tag}>" for tag in self.closes) if self.closes else ""
        return escape_text(self.char * self.count) + opens + closes


@dataclass(slots=True)
class _Opener:
    """A `[` or `![` that a later `]` may close into a link or an image."""

    piece: int  # its place in the output pieces
    start: int  # where its label starts in the text
    image: bool
    order: int
    bracket_events: int  # brackets seen before it: a label holds none
    delimiters: int  # delimiters pushed before it


class _Inline:
    """One text's rendering: output pieces, and the delimiters and brackets still open."""

    def __init__(self, text: str, refs: dict[str, str], attachments: dict | None, images: set[str]):
        self.text, self.refs, self.attachments, self.images = text, refs, attachments, images
        self.out: list = []
        self.delimiters: list[_Delimiter] = []
        self.openers: list[_Opener] = []
        self.opened = 0
        self.links_closed_below = 0  # openers older than this cannot become links (no link in a link)
        self.bracket_events = 0
        self.closers = {char: _closing_runs(pattern, text) if char in text else {} for char, pattern in _RUNS.items()}

    def render(self) -> str:
        text, pos = self.text, 0
        while True:
            match = _SPECIAL.search(text, pos)
            if match is None:
                self.literal(text[pos:])
                break
            self.literal(text[pos:match.start()])
            pos = _HANDLERS[match.lastgroup](self, match)
        self.resolve_emphasis(0)
        return "".join(str(piece) for piece in self.out)

    def literal(self, text: str) -> None:
        if text:
            self.out.append(escape_text(text))

    # ---------------------------------------------------------------- spans that hold text as it is

    def on_code(self, match: re.Match) -> int:
        return self.span(match, "`", lambda body: f"<code>{escape_text(_code_body(body))}</code>")

    def on_math(self, match: re.Match) -> int:
        # Math stays text (no script typesets it); it is kept whole so `_` and `*` in it stay as written.
        def math(body: str) -> str | None:
            if match.group() == "$" and (not body.strip() or body[0].isspace() or body[-1].isspace()):
                return None
            return f'<span class="math">{escape_text(match.group() + body + match.group())}</span>'
        return self.span(match, "$", math)

    def span(self, match: re.Match, char: str, render) -> int:
        """A code or math span: from this run to the next run of the same length, if any."""
        closer = self.closers[char].get(match.start())
        if closer is not None:
            html_span = render(self.text[match.end():closer[0]])
            if html_span is not None:
                self.out.append(html_span)
                return closer[1]
        self.literal(match.group())
        return match.end()

    # ---------------------------------------------------------------- single characters

    def on_escape(self, match: re.Match) -> int:
        self.literal(match.group()[1])
        return match.end()

    def on_newline(self, match: re.Match) -> int:
        hard = match.group().startswith("\\") or self.text[max(match.start() - 2, 0):match.start()] == "  "
        self.out.append("<br>\n" if hard else "\n")
        return match.end()

    def on_entity(self, match: re.Match) -> int:
        self.literal(html.unescape(match.group()))
        return match.end()

    def on_angle(self, match: re.Match) -> int:
        autolink = _AUTOLINK.match(self.text, match.start())
        if autolink is None:
            self.literal("<")
            return match.end()
        address = autolink.group(1)
        target = link_target(address if ":" in address else "mailto:" + address)
        self.out.append(_anchor(target, escape_text(address)) if target else escape_text(autolink.group()))
        return autolink.end()

    def on_url(self, match: re.Match) -> int:
        url = _trimmed_url(_BARE_URL.match(self.text, match.start()).group())
        target = link_target(url if url.startswith("http") else "http://" + url)
        if self.openers or not target or url.endswith(("://", "www.")):  # never a link in a link
            self.literal(url)
        else:
            self.out.append(_anchor(target, escape_text(url)))
        return match.start() + len(url)

    # ---------------------------------------------------------------- emphasis

    def on_delim(self, match: re.Match) -> int:
        run, char = match.group(), match.group()[0]
        if char == "~" and len(run) != 2:
            self.literal(run)
            return match.end()
        before = self.text[match.start() - 1] if match.start() else "\n"
        after = self.text[match.end()] if match.end() < len(self.text) else "\n"
        left = not after.isspace() and (not _punctuation(after) or before.isspace() or _punctuation(before))
        right = not before.isspace() and (not _punctuation(before) or after.isspace() or _punctuation(after))
        if char == "_":
            can_open, can_close = left and (not right or _punctuation(before)), right and (not left or _punctuation(after))
        else:
            can_open, can_close = left, right
        self.opened += 1
        delimiter = _Delimiter(char, len(run), can_open, can_close, self.opened)
        self.delimiters.append(delimiter)
        self.out.append(delimiter)
        return match.end()

    def resolve_emphasis(self, bottom: int) -> None:
        """Pair the delimiters above `bottom` (closers with the nearest opener of their kind) and
        drop them from the stack; what stays unpaired stays literal."""
        stacks: dict[str, list[_Delimiter]] = {"*": [], "_": [], "~": []}
        for delimiter in self.delimiters[bottom:]:
            stack = stacks[delimiter.char]
            while delimiter.can_close and delimiter.count and stack:
                opener = stack[-1]
                for other in stacks.values():  # whatever opened inside the pair cannot close outside it
                    while other and other[-1].order > opener.order:
                        other.pop()
                used = 2 if opener.count >= 2 and delimiter.count >= 2 else 1
                tag = "del" if delimiter.char == "~" else ("strong" if used == 2 else "em")
                opener.count, delimiter.count = opener.count - used, delimiter.count - used
                opener.claim(tag, opening=True)
                delimiter.claim(tag, opening=False)
                if not opener.count:
                    stack.pop()
            if delimiter.can_open and delimiter.count:
                stack.append(delimiter)
        del self.delimiters[bottom:]

    # ---------------------------------------------------------------- links and images

    def on_image(self, match: re.Match) -> int:
        return self.push_opener(match, image=True)

    def on_open(self, match: re.Match) -> int:
        return self.push_opener(match, image=False)

    def push_opener(self, match: re.Match, image: bool) -> int:
        self.opened += 1
        self.openers.append(_Opener(len(self.out), match.end(), image, self.opened, self.bracket_events,
                                    len(self.delimiters)))
        self.bracket_events += 1
        self.literal(match.group())
        return match.end()

    def on_close(self, match: re.Match) -> int:
        events, self.bracket_events = self.bracket_events, self.bracket_events + 1
        if not self.openers:
            self.literal("]")
            return match.end()
        opener = self.openers.pop()
        if not opener.image and opener.order < self.links_closed_below:
            self.literal("]")
            return match.end()
        label = self.text[opener.start:match.start()] if (
            events == opener.bracket_events + 1 and match.start() - opener.start <= MAX_LABEL) else None
        destination, end = self.destination(match.end(), label)
        if destination is None:
            self.literal("]")
            return match.end()
        if opener.image:
            self.close_image(opener, destination, self.text[opener.start:min(match.start(), opener.start + MAX_ALT)])
        else:
            self.close_link(opener, destination)
        return end

    def destination(self, pos: int, label: str | None) -> tuple[str | None, int]:
        """The raw destination after a `]` at `pos` (inline, full, collapsed or shortcut reference)
        and where the link ends; (None, pos) when the brackets are only brackets."""
        inline = _INLINE_LINK.match(self.text, pos)
        if inline:
            dest = inline.group("dest")
            return (dest[1:-1] if dest.startswith("<") else dest), inline.end()
        full = _FULL_REFERENCE.match(self.text, pos)
        if full and full.group(1).strip():
            return self.refs.get(normalise_label(full.group(1))), full.end()
        if label is not None and normalise_label(label) in self.refs:
            end = full.end() if full else pos  # `[label][]` or `[label]`
            return self.refs[normalise_label(label)], end
        return None, pos

    def close_link(self, opener: _Opener, destination: str) -> None:
        self.resolve_emphasis(opener.delimiters)
        target = link_target(destination)
        if target is None:
            self.out[opener.piece] = '<span class="link-removed">'
            self.out.append(f'</span><span class="removed-note"> (link to {escape_text(_shown(destination))} '
                            "removed: pages link only to http, https and mailto addresses)</span>")
        else:
            self.out[opener.piece] = f'<a href="{escape_text(target)}" {LINK_ATTRIBUTES}>'
            self.out.append("</a>")
        self.links_closed_below = self.opened

    def close_image(self, opener: _Opener, destination: str, alt: str) -> None:
        del self.out[opener.piece:]
        del self.delimiters[opener.delimiters:]
        source = image_source(destination, self.attachments)
        if source is None:
            self.out.append(f'<span class="image-removed">{escape_text(alt)} (image at '
                            f"{escape_text(_shown(destination))} not loaded: pages show only images "
                            "attached to the notebook)</span>")
        elif source in self.images:
            self.out.append(f'<span class="image-removed">{escape_text(alt)} (the same image as above)</span>')
        else:
            self.images.add(source)
            self.out.append(f'<img src="{escape_text(source)}" alt="{escape_text(alt)}">')


_HANDLERS = {name: getattr(_Inline, "on_" + name) for name in _SPECIAL.groupindex}


def _closing_runs(pattern: re.Pattern, text: str) -> dict[int, tuple[int, int]]:
    """{start of a run: (start, end) of the next run of the same length}, in one pass."""
    runs = [(m.start(), m.end()) for m in pattern.finditer(text)]
    closers, latest = {}, {}
    for start, end in reversed(runs):
        closers[start] = latest.get(end - start)
        latest[end - start] = (start, end)
    return {start: closer for start, closer in closers.items() if closer is not None}


def _trimmed_url(url: str) -> str:
    """A bare URL without the punctuation that ends its sentence; a `)` stays when it closes a `(`."""
    opens, closes, end = url.count("("), url.count(")"), len(url)
    while end and url[end - 1] in _BARE_URL_TRAILER:
        if url[end - 1] == ")":
            if opens >= closes:
                break
            closes -= 1
        end -= 1
    return url[:end]


def _code_body(body: str) -> str:
    body = body.replace("\n", " ")
    return body[1:-1] if len(body) > 2 and body[0] == body[-1] == " " and body.strip() else body


@lru_cache(maxsize=4096)
def _punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def _anchor(target: str, inner: str) -> str:
    return f'<a href="{escape_text(target)}" {LINK_ATTRIBUTES}>{inner}</a>'


def _shown(destination: str) -> str:
    return destination if len(destination) <= MAX_REMOVED else destination[:MAX_REMOVED] + "…"
