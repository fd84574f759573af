"""The section "answers that look alike" of the class report's page: every group with its
evidence side by side, all student text escaped (the page has no scripts and a CSP)."""

from __future__ import annotations

from html import escape

from grader.report.similar.compare import LookAlike
from grader.report.similar.score import (
    DIFFERENT_ANSWER_BITS,
    SharedPiece,
    SimilarGroup,
    SimilarPair,
)

__all__ = ["look_alike_section", "LOOK_ALIKE_STYLE", "MAX_GROUPS_SHOWN"]

MAX_GROUPS_SHOWN = 50  # the strongest; report.json has them all
LOOK_ALIKE_STYLE = """
#look-alike pre{white-space:pre-wrap;margin:.2em 0;max-height:24em;overflow:auto;font-size:85%}
#look-alike .side td{width:42%}#look-alike .side td.n{width:8%}#look-alike .group{margin:0 0 1.5em}
"""


def look_alike_section(look: LookAlike | None) -> str:
    """The section's HTML; a report gathered without it says so."""
    head = '<section id="look-alike"><h2>Answers that look alike'
    if look is None:
        return head + "</h2><p>Not compared.</p></section>"
    parts = [f"{head} ({len(look.groups)})</h2>", f'<p class="note" id="look-alike-note">{_e(look.note)}</p>',
             _method(look)]
    if not look.groups:
        parts.append("<p>No pair of submissions is closer than the class makes likely.</p>")
    for number, group in enumerate(look.groups[:MAX_GROUPS_SHOWN], 1):
        parts.append(_group(number, group, look.compared))
    if len(look.groups) > MAX_GROUPS_SHOWN:
        parts.append(f"<p>{len(look.groups) - MAX_GROUPS_SHOWN} more groups, weaker, in report.json.</p>")
    return "\n".join(parts) + "</section>"


def _e(value) -> str:
    return escape(str(value), quote=True)


def _method(look: LookAlike) -> str:
    removed = ("with what the release already holds taken out" if look.release_removed
               else "<b>without</b> taking out the release (its notebook was not found)")
    unread = ""
    if look.not_compared:
        names = ", ".join(f"{s} ({why})" for s, why in sorted(look.not_compared.items())[:6])
        more = len(look.not_compared) - 6
        unread = f" Not compared: {_e(names)}{_e(f' and {more} more') if more > 0 else ''}."
    return (f"<p>{look.compared} submissions compared over the whole notebook (every answer, the written "
            f"answers and the cells students added), {removed}; names, layout, comments and the order of "
            "independent statements do not count. A shared piece scores by how rare it is in this class: "
            "held by k of n students, it adds about log2((n - 1)/(k - 1)) bits, less when the students who "
            "share the pieces above it usually share it too; each answer both students gave, but differently, "
            f"takes {DIFFERENT_ANSWER_BITS:g} bits off. A group is listed from a score of {look.threshold:g} "
            f"bits, the threshold for a class of {look.compared}.{unread}</p>")


def _group(number: int, group: SimilarGroup, compared: int) -> str:
    students = ", ".join(group.students)
    more = group.pair_count - len(group.pairs)
    extra = f"<p>{more} more pairs in this group, in report.json.</p>" if more > 0 else ""
    return (f'<div class="group" id="look-alike-group-{number}" data-students="{_e(" ".join(group.students))}">'
            f"<h3>Group {number}: {_e(students)} (score {group.score:g})</h3>"
            + "".join(_pair(pair, compared) for pair in group.pairs) + extra + "</div>")


def _pair(pair: SimilarPair, compared: int) -> str:
    left, right = pair.students
    differ = f"; answered differently: {', '.join(pair.differ)}" if pair.differ else ""
    summary = f"{left} and {right}: score {pair.score:g}, {len(pair.shared)} pieces alike{differ}"
    rows = "".join(_shared_row(piece, compared) for piece in pair.shared)
    return (f'<details open data-pair="{_e(left)} {_e(right)}"><summary>{_e(summary)}</summary>'
            f'<table class="side"><thead><tr><th>{_e(left)}</th><th>{_e(right)}</th>'
            f"<th>students with it</th><th>bits</th></tr></thead><tbody>{rows}</tbody></table></details>")


def _shared_row(piece: SharedPiece, compared: int) -> str:
    similarity = "" if piece.similarity >= 0.999 else f" ({piece.similarity:.0%} alike)"
    return (f"<tr><td><b>{_e(piece.left_label)}</b>{_e(similarity)}<pre>{_e(piece.left_text)}</pre></td>"
            f"<td><b>{_e(piece.right_label)}</b><pre>{_e(piece.right_text)}</pre></td>"
            f'<td class="n">{piece.holders} of {compared}</td><td class="n">{piece.bits:g}</td></tr>')
