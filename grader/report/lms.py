"""The grade files Canvas and Moodle import, from the gradebook's totals and nbgrader's student records.

Canvas (Grades → Import): a header row whose first columns are `Student`, `ID`, `SIS User ID`,
`SIS Login ID`, `Section`, then one column per assignment; a `Points Possible` row may follow
the header. Canvas finds each row's student by `ID` (its numeric user id), else by `SIS User
ID`, else by `SIS Login ID`, else by name; a column that names no assignment of the course
becomes a new assignment of that name.

Moodle (Grades → Import → CSV file): a header row and one row per student; on its mapping
page one column identifies the user (mapped to the username, the email address, the ID number
or the user id) and each other column maps to a grade item, a new one, or nothing. Moodle stops
the whole import at a row whose user it cannot find, so a row without a usable identifier is
left out of the file, and named in `left_out`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.report.csvsafe import needs_neutralising

__all__ = ["StudentRecord", "LmsFile", "canvas_file", "moodle_file", "IDENTIFIERS", "CANVAS_COLUMNS"]

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"
# --lms-id: which of nbgrader's student fields the LMS knows the student by
IDENTIFIERS = {"id": "Username", "email": "Email address"}


@dataclass(frozen=True)
class StudentRecord:
    """nbgrader's record of a student (`nbgrader db student add ID --first-name --last-name --email`)."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None

    def identifier(self, kind: str) -> str | None:
        return self.email if kind == "email" else self.id


@dataclass
class LmsFile:
    """A file's header and rows (cells are made inert when written) and the students left out, with why."""

    header: list
    rows: list[list]
    left_out: list[str] = field(default_factory=list)


def canvas_file(assignment: str, max_score: float, totals: dict[str, float],
                students: dict[str, StudentRecord], identifier: str = "id") -> LmsFile:
    """Canvas's gradebook import for one assignment: the students' totals (the late penalty deducted)."""
    header = [*CANVAS_COLUMNS, assignment]
    rows: list[list] = [[POINTS_POSSIBLE, "", "", "", "", max_score]]
    left_out = []
    for student_id, total in sorted(totals.items()):
        record = students.get(student_id, StudentRecord(student_id))
        canvas_id = record.lms_user_id if (record.lms_user_id or "").isdigit() else ""  # Canvas reads ID as a number
        login = record.identifier(identifier) or ""
        if not canvas_id and not _usable(login):
            left_out.append(f"{student_id}: {_why_unusable(login, identifier)}")
            continue
        rows.append([_sortable_name(record), canvas_id, "", login, "", total])
    return LmsFile(header, rows, left_out)


def moodle_file(assignment: str, totals: dict[str, float], students: dict[str, StudentRecord],
                identifier: str = "id") -> LmsFile:
    """Moodle's CSV grade import for one assignment: one identifier column, the names, the total."""
    header = ["First name", "Last name", IDENTIFIERS[identifier], assignment]
    rows, left_out = [], []
    for student_id, total in sorted(totals.items()):
        record = students.get(student_id, StudentRecord(student_id))
        key = record.identifier(identifier) or ""
        if not _usable(key):
            left_out.append(f"{student_id}: {_why_unusable(key, identifier)}")
            continue
        rows.append([record.first_name or "", record.last_name or "", key, total])
    return LmsFile(header, rows, left_out)


def _usable(identifier: str) -> bool:
    """An identifier the importer can match: present, and not changed by neutralising it."""
    return bool(identifier) and not needs_neutralising(identifier)


def _why_unusable(identifier: str, kind: str) -> str:
    if not identifier:
        return f"nbgrader's student record has no {'email' if kind == 'email' else 'id'}"
    return "its identifier starts like a spreadsheet formula, so the file holds it neutralised and the LMS would not match it"


def _sortable_name(record: StudentRecord) -> str:
    """`Last, First` as Canvas exports names, or the student id when nbgrader has no name."""
    if record.last_name and record.first_name:
        return f"{record.last_name}, {record.first_name}"
    return record.last_name or record.first_name or record.id
