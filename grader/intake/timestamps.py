"""When a submission was handed in: nbgrader's timestamp.txt, checked against what the course machine knows.

The student writes timestamp.txt (`nbgrader submit` runs as the student, and the inbox
folder is theirs until `nbgrader collect` copies it), so it is a claim. The course machine
knows two times the student cannot set: when the assignment was first released (`grader
release` records it in the release notebook's metadata) and when the submission reached
`submitted/` (the inode change time of the files collect copied in, which no user can set
back). A claim outside that window, in the future, malformed, unreadable or absent is a note
for the TA, and the collection time is the submission time instead: never earlier than the
true hand-in. A claim inside the window is trusted, as nbgrader trusts it.

Standard library only: a judge and `grader grade` read timestamps without importing nbgrader.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

from grader.intake.notebook import UnreadableNotebook, read_submitted_bytes
from grader.intake.text import printable

__all__ = ["SubmissionTime", "submission_time", "parse_timestamp", "format_timestamp", "released_at", "RELEASED_KEY",
           "release_stamp", "TIMESTAMP_FILE", "CLOCK_SKEW", "MISSING_NOTE"]

TIMESTAMP_FILE = "timestamp.txt"
TIMESTAMP_BYTES = 100
# Clocks of the machines a hub runs students on drift a little; a claim within this of the
# window is trusted.
CLOCK_SKEW = datetime.timedelta(minutes=5)
RELEASED_KEY = "released"  # in the release notebook's metadata["grader"]
MISSING_NOTE = f"no {TIMESTAMP_FILE}"  # how the note on a submission without one begins

_UTC = datetime.timezone.utc
# What nbgrader's submit writes (Exchange.timestamp_format, "%Y-%m-%d %H:%M:%S.%f %Z") and ISO 8601:
# a date, a time, then an optional zone: UTC/GMT/Z, a numeric offset, or a tz database name.
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
                    r" ?(Z|UTC|GMT|[+-](?:[01]\d|2[0-3]):?[0-5]\d|[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+)?", re.ASCII)


@dataclass(frozen=True)
class SubmissionTime:
    """The time lateness is counted from, and the TA's note when it is not the student's claim."""

    used: datetime.datetime | None  # naive UTC, as nbgrader's gradebook stores times
    note: str | None = None

    @property
    def text(self) -> str | None:
        return None if self.used is None else format_timestamp(self.used)


def submission_time(folder: Path, notebook: Path | None, released: datetime.datetime | None, *,
                    now: datetime.datetime | None = None) -> SubmissionTime:
    """The submission time of submitted/<student>/<assignment>/ (`notebook` is the file graded, if any)."""
    collected = _collected(folder, notebook)
    now = now or datetime.datetime.now(_UTC).replace(tzinfo=None)
    try:
        text = _claim(folder)
    except UnreadableNotebook as exc:
        return _fallback(collected, f"{TIMESTAMP_FILE} was not read ({exc})")
    if text is None:
        return _fallback(collected, f"{MISSING_NOTE} (nbgrader's submit always writes one)")
    if not text:
        return _fallback(collected, f"{TIMESTAMP_FILE} is empty")
    shown = printable(text[:60])
    try:
        claimed = parse_timestamp(text)
    except ValueError:
        return _fallback(collected, f"{TIMESTAMP_FILE} holds {shown!r}, which is not a time nbgrader's submit writes")
    problem = _outside_window(claimed, released, collected, now)
    if problem:
        return _fallback(collected, f"{TIMESTAMP_FILE} says {format_timestamp(claimed)}, {problem}")
    return SubmissionTime(claimed)


def parse_timestamp(text: str) -> datetime.datetime:
    """A timestamp as naive UTC; ValueError unless it is a date and time with an optional zone
    (no zone: UTC, as nbgrader reads it; an abbreviation such as PST names no single zone)."""
    match = _STAMP.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a timestamp: {text[:60]!r}")
    day, clock, zone = match.groups()
    try:
        return _as_utc(datetime.datetime.fromisoformat(f"{day}T{_padded(clock)}"), zone)
    except OverflowError:  # a valid date a zone's offset takes out of datetime's range
        raise ValueError(f"out of range: {text[:60]!r}") from None


def format_timestamp(moment: datetime.datetime) -> str:
    """Naive UTC as nbgrader's submit writes it (and its parse_utc reads it)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def released_at(release_metadata: dict) -> datetime.datetime | None:
    """The first release time `grader release` recorded in the release notebook's metadata, or None."""
    stamp = release_metadata.get("grader")
    recorded = stamp.get(RELEASED_KEY) if isinstance(stamp, dict) else None
    try:
        return parse_timestamp(recorded) if isinstance(recorded, str) else None
    except ValueError:
        return None


def release_stamp(previous: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """What a release records: the earlier of the previous release's time and now (a re-release
    must not make earlier honest submissions look as if they came before the release)."""
    now = now or datetime.datetime.now(_UTC).replace(tzinfo=None)
    return format_timestamp(min(previous, now) if previous else now)


def _claim(folder: Path) -> str | None:
    """timestamp.txt's text, read as a bounded regular file of the folder (a FIFO, a link to
    /dev/zero or a hard link is refused, never waited on or read whole); None when absent."""
    path = folder / TIMESTAMP_FILE
    if not os.path.lexists(path):
        return None
    data = read_submitted_bytes(path, TIMESTAMP_BYTES)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UnreadableNotebook(f"{TIMESTAMP_FILE} is not UTF-8 text") from None


def _collected(folder: Path, notebook: Path | None) -> datetime.datetime | None:
    """When the course machine wrote the submission: the earliest inode change time of the folder,
    its timestamp.txt and the notebook graded (each one's ctime is at or after its copy)."""
    times = []
    for path in filter(None, (folder, folder / TIMESTAMP_FILE, notebook)):
        try:
            times.append(os.lstat(path).st_ctime)
        except OSError:
            continue
    if not times:
        return None
    return datetime.datetime.fromtimestamp(min(times), _UTC).replace(tzinfo=None)


def _outside_window(claimed, released, collected, now) -> str | None:
    if claimed > now + CLOCK_SKEW:
        return "in the future"
    if released is not None and claimed < released - CLOCK_SKEW:
        return f"before the assignment was released ({format_timestamp(released)})"
    if collected is not None and claimed > collected + CLOCK_SKEW:
        return f"after the submission was collected ({format_timestamp(collected)})"
    return None


def _fallback(collected: datetime.datetime | None, why: str) -> SubmissionTime:
    if collected is None:
        return SubmissionTime(None, f"{why}; no submission time is known")
    return SubmissionTime(collected, f"{why}; the time it was collected, {format_timestamp(collected)}, "
                                     "is its submission time")


def _padded(clock: str) -> str:
    """HH:MM[:SS[.f]] with the fraction padded to microseconds, as fromisoformat wants it."""
    if "." in clock:
        whole, fraction = clock.split(".")
        return f"{whole}.{fraction.ljust(6, '0')}"
    return clock


def _as_utc(moment: datetime.datetime, zone: str | None) -> datetime.datetime:
    if zone in (None, "Z", "UTC", "GMT"):
        return moment
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment - offset if zone[0] == "+" else moment + offset
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    return moment.replace(tzinfo=tz).astimezone(_UTC).replace(tzinfo=None)
