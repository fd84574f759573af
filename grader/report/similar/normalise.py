"""What copying changes cheaply, taken out: a cell as a bag of canonical statements, a text as its words.

Code: every statement is written as Python's parser reads it, so formatting and comments are
gone; every name but the builtins and the libraries the release uses is written `_`, so renaming
changes nothing; a cell is the bag of its statements, so moving independent statements (or
cells) changes nothing either. What stays is what a copier would have to rework: the calls,
attributes, constants and the shape of each statement. Text: its words in lower case, in any
order, so that a copy with a few words changed stays close while two students who each wrote
their own stay apart.

Both are bounded: a cell is read up to `MAX_PIECE_CHARS`, an expression down to `MAX_DEPTH`
levels, and a cell Python cannot parse (a syntax error, IPython magic, nesting too deep for
the parser) is read line by line with the same renaming instead.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
import unicodedata
import warnings

from grader.intake.bounds import MAX_CELL_CHARS

__all__ = ["MAX_PIECE_CHARS", "MAX_DEPTH", "code_features", "text_features", "text_runs", "kept_names"]

MAX_PIECE_CHARS = MAX_CELL_CHARS  # the judge runs no longer cell; past it a piece is its first part
MAX_DEPTH = 40  # an expression deeper than this is one opaque leaf
MAX_STRING_CHARS = 60
RUN = 3  # words in a row the release has: a quotation, not the student's own words
PLACEHOLDER = "_"

_SKIPPED_FIELDS = {"ctx", "type_comment", "type_params", "kind"}
_HEADERS = {  # compound statements: the header is a feature, the body's statements are features of their own
    ast.FunctionDef: ("args", "decorator_list"), ast.AsyncFunctionDef: ("args", "decorator_list"),
    ast.ClassDef: ("bases", "keywords", "decorator_list"), ast.For: ("target", "iter"),
    ast.AsyncFor: ("target", "iter"), ast.While: ("test",), ast.If: ("test",), ast.With: ("items",),
    ast.AsyncWith: ("items",), ast.Try: (), ast.TryStar: (), ast.Match: ("subject",),
    ast.ExceptHandler: ("type",), ast.match_case: ("pattern", "guard"),
}
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")  # statements inside: features of their own
_IPYTHON_LINE = re.compile(r"^\s*[%!?]|[?]\s*$")
_LINE_TOKEN = re.compile(r"\.?[^\W\d]\w*|\d[\w.]*|'[^']*'|\"[^\"]*\"|[^\s\w]", re.UNICODE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def kept_names(release_sources: list[str]) -> frozenset[str]:
    """Names that keep their spelling: Python's builtins and what the release uses without binding
    it (`torch`, `plt`): they name the libraries, not anything a student chose."""
    used, bound = set(), set()
    for source in release_sources:
        tree = _parse(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
            elif isinstance(node, ast.alias):
                used.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
    return frozenset(set(dir(builtins)) | (used - bound))


def code_features(source: str, kept: frozenset[str]) -> list[str]:
    """The cell as a bag of canonical statements (bare strings, such as docstrings, left out),
    each as a short digest: a statement can be as long as its cell."""
    return [_digest(feature) for feature in _canonical_statements(source[:MAX_PIECE_CHARS], kept)]


def _canonical_statements(source: str, kept: frozenset[str]) -> list[str]:
    tree = _parse(source)
    if tree is None:
        tree = _parse("\n".join("" if _IPYTHON_LINE.search(line) else line for line in source.splitlines()))
    if tree is None:
        return _line_features(source, kept)
    try:
        return _statement_features(tree, kept)
    except RecursionError:  # a tree deeper than the depth cap reaches (a long chain of operators)
        return _line_features(source, kept)


def _digest(feature: str) -> str:
    return hashlib.blake2b(feature.encode("utf-8", "replace"), digest_size=8).hexdigest()


def text_features(text: str, release_runs: frozenset[tuple[str, ...]] = frozenset()) -> list[str]:
    """The text's words in lower case (markup and punctuation left out), but those inside a run of
    RUN words that the release also has: a student quoting the question wrote nothing of their own."""
    words = _words(text)
    quoted = [False] * len(words)
    for i in range(len(words) - RUN + 1):
        if tuple(words[i:i + RUN]) in release_runs:
            quoted[i:i + RUN] = [True] * RUN
    return [word for word, inside in zip(words, quoted, strict=True) if not inside]


def text_runs(text: str) -> frozenset[tuple[str, ...]]:
    """Every run of RUN words in the text, for `text_features(..., release_runs)`."""
    words = _words(text)
    return frozenset(tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1))


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text[:MAX_PIECE_CHARS]).casefold())


def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _statement_features(tree: ast.Module, kept: frozenset[str]) -> list[str]:
    features, pending = [], list(reversed(tree.body))
    while pending:  # iterative: statements nest at most 100 deep, but nothing here relies on that
        node = pending.pop()
        kind = type(node)
        if kind is ast.Expr and type(node.value) is ast.Constant and isinstance(node.value.value, str):
            continue  # a docstring or a bare string is a comment
        header = _HEADERS.get(kind)
        if header is None:
            features.append(repr(_canon(node, kept, 0)))
        else:
            features.append(repr((kind.__name__, *(_canon(getattr(node, name), kept, 1) for name in header))))
        for name in _BODIES:
            children = getattr(node, name, None)
            if children:
                pending.extend(reversed(children))
    return features


def _canon(node, kept: frozenset[str], depth: int):
    """One node in a canonical spelling (nested tuples): student-bound names as `_`, keyword order sorted."""
    if depth > MAX_DEPTH:
        return "…"
    kind = type(node)
    if kind is ast.Name:
        return node.id if node.id in kept else PLACEHOLDER
    if kind is ast.Constant:
        return _constant(node.value)
    if kind is list:
        return tuple(_canon(item, kept, depth + 1) for item in node)
    if kind is ast.Attribute:
        return (_canon(node.value, kept, depth + 1), node.attr)
    if kind is ast.Call:
        keywords = sorted((k.arg or "**", repr(_canon(k.value, kept, depth + 1))) for k in node.keywords)
        return ("call", _canon(node.func, kept, depth + 1), _canon(node.args, kept, depth + 1), tuple(keywords))
    if kind is ast.arg:
        return PLACEHOLDER
    if kind is ast.alias:
        return node.name + (f" as {PLACEHOLDER}" if node.asname else "")
    if not isinstance(node, ast.AST):
        return node if node is None or isinstance(node, str) else repr(node)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(f for f in kind._fields if f not in _SKIPPED_FIELDS and f not in _BODIES)
    return (kind.__name__, *(_canon(getattr(node, f, None), kept, depth + 1) for f in fields))


_FIELDS: dict[type, tuple[str, ...]] = {}


def _constant(value) -> tuple:
    if isinstance(value, str):
        return ("=", " ".join(value.casefold().split())[:MAX_STRING_CHARS])
    return ("=", b"" if isinstance(value, bytes) else value)


def _line_features(source: str, kept: frozenset[str]) -> list[str]:
    """Code Python cannot parse, line by line: comments dropped, student names as `_`."""
    features = []
    for line in source.splitlines():
        tokens = [_line_token(token, kept) for token in _LINE_TOKEN.findall(line.split("#", 1)[0])]
        if tokens:
            features.append(" ".join(tokens))
    return features


def _line_token(token: str, kept: frozenset[str]) -> str:
    if token[0] == "." or not (token[0].isalpha() or token[0] == "_"):
        return token
    return token if token in kept else PLACEHOLDER
