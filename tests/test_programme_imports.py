"""Importing sections, events and trainings: all or nothing, idempotent, changes marked."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from bot.db import Database, upgrade
from bot.services.imports import ImportKind, ImportResult, import_csv
from models import Category, Event, Section
from tests.conftest import EXAMPLES, NOW
from tests.programme import load_programme
from tests.test_imports import snapshot

EVENTS_HEADER = (
    "code,kind,title_uk,title_en,starts_at,ends_at,location,capacity,registration_deadline,"
    "section,description_uk,description_en,per_council_limit\n"
)
TRAININGS_HEADER = (
    "code,format,title_uk,title_en,starts_at,ends_at,hours,capacity,registration_deadline,"
    "description_uk,description_en\n"
)


async def run(db: Database, kind: ImportKind, text: str) -> ImportResult:
    async with db.session() as session:
        return await import_csv(
            session=session, kind=kind, data=text.encode(), today=NOW.date(), now=NOW
        )


async def event(db: Database, code: str) -> Event:
    async with db.session() as session:
        found = (await session.execute(select(Event).where(col(Event.code) == code))).scalar_one()
    return found


def test_migration_ships_the_standard_sections_as_in_examples() -> None:
    migration = importlib.import_module("models.migrations.versions.0003_events")
    lines = (EXAMPLES / "sections.csv").read_text(encoding="utf-8").splitlines()[1:]
    shipped = {tuple(line.split(",")) for line in lines}
    assert set(migration.STANDARD_SECTIONS) == shipped
    assert len(shipped) == 15
    assert {"education", "legal", "sustainable_development"} <= {c for c, _, _ in shipped}


async def test_a_fresh_database_has_the_standard_sections(tmp_path: Path) -> None:
    fresh = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        await upgrade(fresh.engine)
        async with fresh.session() as session:
            codes = set((await session.execute(select(col(Section.code)))).scalars())
    finally:
        await fresh.dispose()
    assert len(codes) == 15 and "gender_equality" in codes


async def test_sample_programme_imports_and_reimport_changes_nothing(db: Database) -> None:
    await load_programme(db)
    before = await snapshot(db)
    for kind in (ImportKind.SECTIONS, ImportKind.EVENTS, ImportKind.TRAININGS):
        result = await run(db, kind, (EXAMPLES / f"{kind.value}.csv").read_text("utf-8"))
        assert result.ok and result.created == result.updated == 0, result
        assert result.unchanged == result.rows
    assert await snapshot(db) == before
    forum = await event(db, "FORUM-2026")
    assert forum.category == Category.EVENT
    assert forum.per_council_limit == 3
    # 10:00 in Kyiv in February (UTC+2) is 08:00 UTC.
    assert forum.starts_at == datetime(2026, 2, 25, 8, 0, tzinfo=UTC)
    webinar = await event(db, "WEB-DIGITAL-2025-12")
    assert webinar.capacity is None
    led = await event(db, "TR-LED-2026-01")
    assert (led.category, led.kind, led.hours) == (Category.TRAINING, "seminar", 24)


async def test_sections_import_adds_and_renames(db: Database) -> None:
    result = await run(
        db,
        ImportKind.SECTIONS,
        "code,name_uk,name_en\nwater,Водопостачання,Water Supply\nwater2,Вода,Water\n",
    )
    assert (result.ok, result.created) == (True, 2)
    result = await run(
        db,
        ImportKind.SECTIONS,
        "code,name_uk,name_en\nwater,Водопостачання і водовідведення,Water\n",
    )
    assert (result.updated, result.unchanged) == (1, 0)
    async with db.session() as session:
        names = dict(
            (await session.execute(select(col(Section.code), col(Section.name_uk)))).all()
        )
    assert names["water"] == "Водопостачання і водовідведення"


async def test_every_bad_event_line_is_named_and_nothing_is_written(db: Database) -> None:
    await load_programme(db)
    before = await snapshot(db)
    rows = [
        "OK-1,forum,Форум,Forum,2026-03-01T10:00,2026-03-01T12:00,Київ,10,,,,,",
        "OK-1,forum,Форум,Forum,2026-03-01T10:00,2026-03-01T12:00,Київ,10,,,,,",  # duplicate
        "BAD-KIND,party,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,,,,,",
        "BAD-TIME,forum,Т,T,2026-03-01,2026-03-01T12:00,Київ,,,,,,",
        "BAD-ORDER,forum,Т,T,2026-03-01T12:00,2026-03-01T10:00,Київ,,,,,,",
        "BAD-SECTION,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,,nosuch,,,",
        "BAD-DEADLINE,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,2026-03-02T10:00,,,,",
        "BAD-CAP,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,0,,,,,",
        "TR-LED-2026-01,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,,,,,",  # a training's
        "bad code!,forum,Т,T,2026-03-01T10:00,2026-03-01T12:00,Київ,,,,,,",
    ]
    result = await run(db, ImportKind.EVENTS, EVENTS_HEADER + "\n".join(rows) + "\n")
    assert [(p.line, p.msgid) for p in result.problems] == [
        (3, "import.error.duplicate"),
        (4, "import.error.choice"),
        (5, "import.error.datetime"),
        (6, "import.error.ends_before_start"),
        (7, "import.error.unknown_section"),
        (8, "import.error.deadline_after_start"),
        (9, "import.error.number"),
        (10, "import.error.code_taken"),
        (11, "import.error.event_code"),
    ]
    assert await snapshot(db) == before


async def test_reimport_that_moves_an_event_updates_it_and_marks_it_changed(db: Database) -> None:
    await load_programme(db)
    original = await event(db, "SM-EDU-2026-01")
    text = (EXAMPLES / "events.csv").read_text("utf-8")
    moved = text.replace(
        "2026-01-22T10:00,2026-01-22T14:00", "2026-01-23T10:00+02:00,2026-01-23T14:00+02:00"
    )
    result = await run(db, ImportKind.EVENTS, moved)
    assert (result.ok, result.updated) == (True, 1)
    after = await event(db, "SM-EDU-2026-01")
    assert after.starts_at - original.starts_at == timedelta(days=1)
    assert after.sequence == original.sequence + 1
    assert after.changed_at == NOW
    # A change of capacity alone is no calendar news.
    result = await run(
        db,
        ImportKind.EVENTS,
        moved.replace('Полтавська міська рада",30,', 'Полтавська міська рада",45,'),
    )
    assert result.updated == 1
    again = await event(db, "SM-EDU-2026-01")
    assert (again.capacity, again.sequence) == (45, after.sequence)


async def test_trainings_need_hours_and_a_known_format(db: Database) -> None:
    rows = [
        "T-1,seminar,Т,T,2026-03-01T10:00,2026-03-01T12:00,,10,,,",
        "T-2,lecture,Т,T,2026-03-01T10:00,2026-03-01T12:00,4,10,,,",
        "T-3,webinar,Т,T,2026-03-01T10:00Z,2026-03-01T12:00Z,2,,,,",
    ]
    result = await run(db, ImportKind.TRAININGS, TRAININGS_HEADER + "\n".join(rows) + "\n")
    assert [(p.line, p.msgid) for p in result.problems] == [
        (2, "import.error.required"),
        (3, "import.error.choice"),
    ]
    result = await run(db, ImportKind.TRAININGS, TRAININGS_HEADER + rows[2] + "\n")
    assert result.ok
    assert (await event(db, "T-3")).starts_at == datetime(2026, 3, 1, 10, tzinfo=UTC)


async def test_sample_registrations_seed_once_with_certificates(examples: Database) -> None:
    from bot.services import programme_seed
    from models import Certificate, Registration

    async with examples.session() as session:
        regs = (await session.execute(select(Registration))).scalars().all()
        certs = (await session.execute(select(Certificate))).scalars().all()
    assert len(regs) == 30
    assert len(certs) == 3  # the gender-budgeting seminar: three attended, one absent
    assert {c.hours for c in certs} == {16}
    before = await snapshot(examples)
    async with examples.session() as session:
        again = await programme_seed.seed_registrations(
            session=session, data=(EXAMPLES / "registrations.csv").read_bytes(), now=NOW
        )
    assert (again.created, again.unchanged, again.problems) == (0, 30, [])
    bad = b"event_code,member_code,full_name,status\nNOPE,04057287,X,registered\n"
    async with examples.session() as session:
        failed = await programme_seed.seed_registrations(session=session, data=bad, now=NOW)
    assert failed.problems == ["line 2: unknown event, council or official"]
    assert await snapshot(examples) == before
