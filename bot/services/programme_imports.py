"""CSV imports of the programme: sections, events and trainings (all or nothing, idempotent)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import N_
from bot.services.imports import (
    ImportKind,
    ImportResult,
    Problem,
    _choice,
    _int,
    _RowError,
    _text,
)
from models import Category, Event, EventKind, Section, TrainingFormat

Rows = list[tuple[int, dict[str, str]]]
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
SECTION_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_DESCRIPTION = 2000
CAPACITY = range(1, 100_001)
HOURS = range(1, 1001)
PER_COUNCIL = range(1, 1001)
# A change to one of these is what a calendar shows: the entry's SEQUENCE rises.
CALENDAR_FIELDS = (
    "title_uk",
    "title_en",
    "description_uk",
    "description_en",
    "starts_at",
    "ends_at",
    "location",
)
# A change to one of these is news for those registered: "time or place changed".
TIME_AND_PLACE = ("starts_at", "ends_at", "location")


def parse_time(value: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 date and time, read in `tz` (Kyiv) without an offset; else ValueError."""
    if len(value) < 16 or value[10] not in "T ":
        raise ValueError(value)  # a bare date has no time of day
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _time(
    row: dict[str, str], name: str, tz: ZoneInfo, *, required: bool = True
) -> datetime | None:
    value = row.get(name, "")
    if not value:
        if required:
            raise _RowError(N_("import.error.required"), column=name)
        return None
    try:
        return parse_time(value, tz)
    except ValueError:
        raise _RowError(N_("import.error.datetime"), column=name, value=value[:40]) from None


def _code(row: dict[str, str], seen: dict[str, int], line: int) -> str:
    code = row.get("code", "")
    if not CODE.match(code):
        raise _RowError(N_("import.error.event_code"), value=code[:40])
    if code in seen:
        raise _RowError(N_("import.error.duplicate"), column="code", first=seen[code])
    seen[code] = line
    return code


async def _import_sections(
    session: AsyncSession, rows: Rows, result: ImportResult, *, now: datetime, tz: ZoneInfo
) -> None:
    existing = {s.code: s for s in (await session.execute(select(Section))).scalars()}
    seen: dict[str, int] = {}
    valid = []
    for line, row in rows:
        try:
            code = row.get("code", "")
            if not SECTION_CODE.match(code):
                raise _RowError(N_("import.error.section_code"), value=code[:40])
            if code in seen:
                raise _RowError(N_("import.error.duplicate"), column="code", first=seen[code])
            seen[code] = line
            names = {
                "name_uk": _text(row, "name_uk", limit=200),
                "name_en": _text(row, "name_en", limit=200),
            }
            valid.append((code, names))
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for code, names in valid:
        section = existing.get(code)
        if section is None:
            session.add(Section(code=code, name_uk=names["name_uk"], name_en=names["name_en"]))
            result.created += 1
        elif any(getattr(section, k) != v for k, v in names.items()):
            for k, v in names.items():
                setattr(section, k, v)
            result.updated += 1
        else:
            result.unchanged += 1


def _common(row: dict[str, str], tz: ZoneInfo, *, location: bool) -> dict[str, Any]:
    """The columns events and trainings share, validated."""
    starts = _time(row, "starts_at", tz)
    ends = _time(row, "ends_at", tz)
    assert starts is not None and ends is not None  # noqa: S101 - required
    if ends <= starts:
        raise _RowError(N_("import.error.ends_before_start"))
    deadline = _time(row, "registration_deadline", tz, required=False)
    if deadline is not None and deadline > starts:
        raise _RowError(N_("import.error.deadline_after_start"))
    return {
        "title_uk": _text(row, "title_uk"),
        "title_en": _text(row, "title_en"),
        "description_uk": _text(row, "description_uk", required=False, limit=MAX_DESCRIPTION),
        "description_en": _text(row, "description_en", required=False, limit=MAX_DESCRIPTION),
        "starts_at": starts,
        "ends_at": ends,
        "location": _text(row, "location", required=False) if location else "",
        "capacity": _int(row, "capacity", CAPACITY, required=False),
        "registration_deadline": deadline,
    }


async def _import_programme(
    session: AsyncSession,
    rows: Rows,
    result: ImportResult,
    *,
    now: datetime,
    tz: ZoneInfo,
    category: Category,
) -> None:
    existing = {e.code: e for e in (await session.execute(select(Event))).scalars()}
    sections = {
        code: sid
        for code, sid in await session.execute(select(col(Section.code), col(Section.id)))
        if sid is not None
    }
    seen: dict[str, int] = {}
    valid: list[tuple[str, dict[str, Any]]] = []
    for line, row in rows:
        try:
            code = _code(row, seen, line)
            other = existing.get(code)
            if other is not None and other.category != category:
                raise _RowError(N_("import.error.code_taken"), code=code)
            if category == Category.EVENT:
                fields = _common(row, tz, location=True)
                fields["kind"] = _choice(row, "kind", [k.value for k in EventKind])
                section = row.get("section", "")
                if section and section not in sections:
                    raise _RowError(N_("import.error.unknown_section"), code=section[:40])
                fields["section_id"] = sections.get(section) if section else None
                fields["per_council_limit"] = _int(
                    row, "per_council_limit", PER_COUNCIL, required=False
                )
                fields["hours"] = None
            else:
                fields = _common(row, tz, location=False)
                fields["kind"] = _choice(row, "format", [f.value for f in TrainingFormat])
                fields["hours"] = _int(row, "hours", HOURS)
                fields["section_id"] = None
                fields["per_council_limit"] = None
            valid.append((code, fields))
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for code, fields in valid:
        event = existing.get(code)
        if event is None:
            session.add(Event(code=code, category=category, created_at=now, **fields))
            result.created += 1
            continue
        changed = [k for k, v in fields.items() if getattr(event, k) != v]
        if not changed:
            result.unchanged += 1
            continue
        for k in changed:
            setattr(event, k, fields[k])
        if any(k in CALENDAR_FIELDS for k in changed):
            event.sequence += 1  # calendars replace their copy of the entry
        if any(k in TIME_AND_PLACE for k in changed):
            event.changed_at = now
        result.updated += 1


async def _import_events(
    session: AsyncSession, rows: Rows, result: ImportResult, *, now: datetime, tz: ZoneInfo
) -> None:
    await _import_programme(session, rows, result, now=now, tz=tz, category=Category.EVENT)


async def _import_trainings(
    session: AsyncSession, rows: Rows, result: ImportResult, *, now: datetime, tz: ZoneInfo
) -> None:
    await _import_programme(session, rows, result, now=now, tz=tz, category=Category.TRAINING)


Importer = Callable[..., Awaitable[None]]
IMPORTERS: dict[ImportKind, Importer] = {
    ImportKind.SECTIONS: _import_sections,
    ImportKind.EVENTS: _import_events,
    ImportKind.TRAININGS: _import_trainings,
}
