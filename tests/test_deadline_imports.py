"""`amu-bot import deadlines`: all or nothing, idempotent by code, and a moved deadline is
reminded again for its new moment while what was queued for the old one is dropped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col

from bot.clock import ManualClock
from bot.db import Database
from bot.i18n import Translator
from bot.notifications.planner import PlanResult, plan
from bot.services import deadlines
from bot.services.imports import ImportKind, ImportResult, import_csv
from models import Deadline, Outbox, OutboxStatus, PlanMark
from tests.conftest import EXAMPLES
from tests.notify_support import add_member, add_person, outbox_rows
from tests.test_cli import LOAD_SEQUENCE, flat, isolated, make_invoke, rows
from tests.test_imports import snapshot

__all__ = ["isolated"]  # the autouse fixture of the CLI tests: no inherited settings

KYIV = ZoneInfo("Europe/Kyiv")
TRANSLATOR = Translator(KYIV)
HEADER = "code,title_uk,title_en,due_at,audience,description_uk,description_en\n"
NOW = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
ASMS = "ASMS-2026,Показники до АСМС,ASMS indicators,2026-06-15T18:00,all,Подати показники,Submit\n"
LAW = "LAW-1,Пропозиції до законопроєкту,Proposals on the draft law,2026-06-05T12:00,,,\n"
GRANT = (
    "GRANT-PL,Заявка на грант,Training grant application,2026-07-01T17:00,region:Полтавська,,\n"
)


def kyiv(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KYIV).astimezone(UTC)


async def run(db: Database, text: str, *, now: datetime = NOW) -> ImportResult:
    async with db.session() as session:
        return await import_csv(
            session=session,
            kind=ImportKind.DEADLINES,
            data=text.encode(),
            today=now.date(),
            now=now,
            tz=KYIV,
        )


async def councils(db: Database) -> None:
    """Two regions: Poltava with officials 11 (uk) and 12 (en), Kyiv region with 21."""
    async with db.session() as session:
        a = await add_member(session, "10000001", region="Полтавська")
        b = await add_member(session, "10000002", region="Київська")
        await add_person(session, 11, a, lang="uk")
        await add_person(session, 12, a, lang="en")
        await add_person(session, 21, b)
        await session.commit()


async def by_code(db: Database) -> dict[str, Deadline]:
    async with db.session() as session:
        found = (await session.execute(select(Deadline).order_by(col(Deadline.id)))).scalars()
        return {d.code or "": d for d in found}


def problems(result: ImportResult) -> list[tuple[int, str]]:
    return [(p.line, p.msgid) for p in result.problems]


# --- the import --------------------------------------------------------------------------------


async def test_import_adds_the_deadlines_and_reimport_changes_nothing(db: Database) -> None:
    await councils(db)
    first = await run(db, HEADER + ASMS + LAW + GRANT)
    assert first.ok, first.problems
    assert (first.rows, first.created, first.updated, first.unchanged) == (3, 3, 0, 0)
    found = await by_code(db)
    asms = found["ASMS-2026"]
    assert (asms.title_uk, asms.title_en, asms.description_en) == (
        "Показники до АСМС",
        "ASMS indicators",
        "Submit",
    )
    assert asms.due_at == datetime(2026, 6, 15, 15, 0, tzinfo=UTC)  # 18:00 Kyiv in summer
    assert found["LAW-1"].audience == "all"  # an empty audience is everyone
    assert found["GRANT-PL"].audience == "region:Полтавська"

    before = await snapshot(db)
    again = await run(db, HEADER + ASMS + LAW + GRANT)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert await snapshot(db) == before


async def test_descriptions_are_optional_columns(db: Database) -> None:
    result = await run(
        db, "code,title_uk,title_en,due_at,audience\nX-1,Т,T,2026-06-01T10:00+03:00,all\n"
    )
    assert result.ok and result.created == 1
    (x,) = (await by_code(db)).values()
    assert (x.description_uk, x.due_at) == ("", datetime(2026, 6, 1, 7, 0, tzinfo=UTC))


async def test_a_changed_row_updates_its_deadline_and_a_missing_row_keeps_it(
    db: Database,
) -> None:
    await councils(db)
    await run(db, HEADER + ASMS + LAW + GRANT)
    moved = (
        "ASMS-2026,Показники громади до АСМС,ASMS indicators,2026-06-20T18:00,"
        "region:Київська,Новий опис,New description\n"
    )
    result = await run(db, HEADER + moved + LAW)  # GRANT-PL is no longer in the file
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    found = await by_code(db)
    asms = found["ASMS-2026"]
    assert asms.title_uk == "Показники громади до АСМС"
    assert (asms.description_uk, asms.description_en) == ("Новий опис", "New description")
    assert asms.audience == "region:Київська"
    assert asms.due_at == kyiv(2026, 6, 20, 18)
    assert "GRANT-PL" in found  # an import never deletes
    async with db.session() as session:
        listed = await deadlines.open_deadlines(
            session=session, now=NOW, region=None, everything=True
        )
    assert [d.title_en for d in listed] == [
        "Proposals on the draft law",
        "ASMS indicators",
        "Training grant application",
    ]


async def test_deadlines_added_by_hand_are_not_touched(db: Database) -> None:
    async with db.session() as session:
        await deadlines.add(
            session=session,
            title_uk="Вручну",
            title_en="By hand",
            due_at=NOW + timedelta(days=3),
            now=NOW,
        )
    result = await run(db, HEADER + LAW)
    assert result.created == 1
    assert sorted((await by_code(db)).keys()) == ["", "LAW-1"]


async def test_every_bad_row_is_named_and_nothing_changes(db: Database) -> None:
    await councils(db)
    await run(db, HEADER + ASMS)
    before = await snapshot(db)
    rows = [
        "OK-1,Т,T,2026-06-01T10:00,all,,",
        ",Т,T,2026-06-01T10:00,all,,",  # no code
        "NO-TITLE,,T,2026-06-01T10:00,all,,",
        "NO-EN,Т,,2026-06-01T10:00,all,,",
        "BAD-DATE,Т,T,2026-06-31T10:00,all,,",
        "BARE-DATE,Т,T,2026-06-01,all,,",
        "NO-DUE,Т,T,,all,,",
        "PASSED,Т,T,2026-05-01T10:00,all,,",
        "NO-REGION,Т,T,2026-06-01T10:00,region:Атлантида,,",
        "SECTION,Т,T,2026-06-01T10:00,section:finance,,",
        "OVERDUE,Т,T,2026-06-01T10:00,overdue,,",
        "MALFORMED,Т,T,2026-06-01T10:00,region:,,",
        "OK-1,Т,T,2026-06-01T10:00,all,,",  # the code again
        f"LONG-TITLE,{'Т' * 301},T,2026-06-01T10:00,all,,",
        f"LONG-TEXT,Т,T,2026-06-01T10:00,all,{'о' * 2001},",
        f"{'C' * 41},Т,T,2026-06-01T10:00,all,,",
        "ASMS-2026,Т,T,2026-05-19T10:00,all,,",  # a known deadline moved into the past
    ]
    result = await run(db, HEADER + "\n".join(rows) + "\n")
    assert problems(result) == [
        (3, "import.error.event_code"),
        (4, "import.error.required"),
        (5, "import.error.required"),
        (6, "import.error.datetime"),
        (7, "import.error.datetime"),
        (8, "import.error.required"),
        (9, "import.error.due_passed"),
        (10, "import.error.unknown_region"),
        (11, "import.error.deadline_audience"),
        (12, "import.error.deadline_audience"),
        (13, "import.error.deadline_audience"),
        (14, "import.error.duplicate"),
        (15, "import.error.too_long"),
        (16, "import.error.too_long"),
        (17, "import.error.event_code"),
        (18, "import.error.due_passed"),
    ]
    assert result.problems[2].params == {"column": "title_en"}
    assert result.problems[7].params["region"] == "Атлантида"
    assert "Полтавська" in result.problems[7].params["known"]
    assert result.problems[11].params == {"column": "code", "first": 2}
    assert result.problems[12].params == {"column": "title_uk", "limit": 300}
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert await snapshot(db) == before
    uk = TRANSLATOR("uk")
    reason = uk.t(result.problems[6].msgid, **result.problems[6].params)
    assert reason.startswith("due_at: «2026-05-01T10:00» уже минуло")


async def test_a_passed_deadline_reimports_unchanged(db: Database) -> None:
    await run(db, HEADER + LAW)
    later = NOW + timedelta(days=30)  # LAW-1 (5 June) has passed
    again = await run(db, HEADER + LAW, now=later)
    assert (again.ok, again.unchanged) == (True, 1)
    retitled = LAW.replace("Proposals on the draft law", "Proposals (closed)")
    assert (await run(db, HEADER + retitled, now=later)).updated == 1


async def test_the_sample_deadlines_import(db: Database) -> None:
    async with db.session() as session:
        members = await import_csv(
            session=session,
            kind=ImportKind.MEMBERS,
            data=(EXAMPLES / "members.csv").read_bytes(),
            today=datetime(2025, 11, 20, tzinfo=UTC).date(),
            now=datetime(2025, 11, 20, 10, tzinfo=UTC),
        )
    assert members.ok
    sample = (EXAMPLES / "deadlines.csv").read_text("utf-8")
    result = await run(db, sample, now=datetime(2025, 11, 20, 10, tzinfo=UTC))
    assert result.ok, result.problems
    assert result.created == 4
    found = await by_code(db)
    assert found["DL-GRANT-2025-12"].audience == "region:Полтавська"
    assert "АСМС" in found["DL-ASMS-2025"].title_uk


# --- the planner: a moved deadline --------------------------------------------------------------


async def plan_at(db: Database, at: datetime) -> PlanResult:
    result = await plan(db=db, clock=ManualClock(KYIV, at), translator=TRANSLATOR)
    assert result is not None
    return result


async def deadline_rows(db: Database) -> list[Outbox]:
    return [r for r in await outbox_rows(db) if r.kind == "deadline"]


async def test_a_moved_deadline_is_reminded_for_its_new_moment(db: Database) -> None:
    await councils(db)
    await run(db, HEADER + ASMS)  # due 15 June, 18:00
    planned_at = kyiv(2026, 6, 10)
    assert (await plan_at(db, planned_at)).written["deadlines"] == 3
    queued = await deadline_rows(db)
    (asms,) = (await by_code(db)).values()
    epoch = int(kyiv(2026, 6, 15, 18).timestamp())
    assert {r.dedupe_key.rsplit(":to:", 1)[0] for r in queued} == {
        f"deadline:{asms.id}:7d:{epoch}"
    }
    assert all("15 червня 2026" in r.text for r in queued if r.recipient != 12)

    # Moved a day later while the reminders still wait (night, quiet hours, a backlog).
    moved = ASMS.replace("2026-06-15T18:00", "2026-06-16T18:00")
    result = await run(db, HEADER + moved, now=planned_at + timedelta(minutes=5))
    assert result.updated == 1
    # Dropped with the move itself: none can go out with the old date before the next pass.
    assert {r.status for r in await deadline_rows(db)} == {OutboxStatus.DROPPED}
    assert (await plan_at(db, planned_at + timedelta(minutes=10))).written["deadlines"] == 3
    rows = await deadline_rows(db)
    old, new = rows[:3], rows[3:]
    assert {r.status for r in old} == {OutboxStatus.DROPPED}
    assert {r.last_error for r in old} == {"the deadline moved"}
    assert {r.status for r in new} == {OutboxStatus.PENDING}
    uk = next(r for r in new if r.recipient == 11)
    assert "16 червня 2026" in uk.text and uk.expires_at == kyiv(2026, 6, 16, 18)
    # Re-planning writes nothing more, and drops nothing that is current.
    assert (await plan_at(db, planned_at + timedelta(minutes=20))).written["deadlines"] == 0
    assert [r.status for r in await deadline_rows(db)] == [r.status for r in rows]
    # The day before the new moment, the 1-day reminder follows.
    assert (await plan_at(db, kyiv(2026, 6, 15, 19))).written["deadlines"] == 3


async def test_moved_out_of_the_week_its_queued_reminders_are_dropped(db: Database) -> None:
    await councils(db)
    await run(db, HEADER + ASMS)
    await plan_at(db, kyiv(2026, 6, 10))
    later = ASMS.replace("2026-06-15T18:00", "2026-09-15T18:00")
    await run(db, HEADER + later, now=kyiv(2026, 6, 10, 12, 5))
    assert (await plan_at(db, kyiv(2026, 6, 10, 12, 10))).written["deadlines"] == 0
    assert {r.status for r in await deadline_rows(db)} == {OutboxStatus.DROPPED}


async def test_sent_reminders_are_left_alone_and_a_title_edit_is_no_new_reminder(
    db: Database,
) -> None:
    await councils(db)
    await run(db, HEADER + ASMS)
    await plan_at(db, kyiv(2026, 6, 10))
    async with db.session() as session:
        for row in (await session.execute(select(Outbox))).scalars():
            row.status = OutboxStatus.SENT
        await session.commit()
    retitled = ASMS.replace("Показники до АСМС", "Річні показники до АСМС")
    assert (await run(db, HEADER + retitled, now=kyiv(2026, 6, 10, 12, 5))).updated == 1
    assert (await plan_at(db, kyiv(2026, 6, 10, 12, 10))).written["deadlines"] == 0
    moved = ASMS.replace("2026-06-15T18:00", "2026-06-16T18:00")
    await run(db, HEADER + moved, now=kyiv(2026, 6, 10, 12, 15))
    assert (await plan_at(db, kyiv(2026, 6, 10, 12, 20))).written["deadlines"] == 3
    statuses = [r.status for r in await deadline_rows(db)]
    assert statuses == [OutboxStatus.SENT] * 3 + [OutboxStatus.PENDING] * 3


async def test_reminders_planned_before_keys_named_the_moment_are_not_repeated(
    db: Database,
) -> None:
    """A deadline reminded (and its reminder still queued) under the old key `deadline:{id}:7d`
    is neither reminded again nor dropped after the upgrade."""
    await councils(db)
    due = kyiv(2026, 6, 15, 18)
    async with db.session() as session:
        item = await deadlines.add(
            session=session, title_uk="Т", title_en="T", due_at=due, now=NOW
        )
        session.add(PlanMark(key=f"deadline:{item.id}:7d", created_at=NOW))
        session.add(
            Outbox(
                recipient=11,
                text="old",
                kind="deadline",
                dedupe_key=f"deadline:{item.id}:7d:to:11",
                not_before=NOW,
                expires_at=due,
            )
        )
        await session.commit()
    assert (await plan_at(db, kyiv(2026, 6, 10))).written["deadlines"] == 0
    (old,) = await deadline_rows(db)
    assert old.status == OutboxStatus.PENDING
    assert (await plan_at(db, kyiv(2026, 6, 15))).written["deadlines"] == 3  # the 1-day one


# --- the command line ----------------------------------------------------------------------------


def test_import_deadlines_through_the_command_line(tmp_path: Path) -> None:
    db_file = tmp_path / "deadlines.db"
    cli = make_invoke(db_file)
    for args in LOAD_SEQUENCE[:2]:  # the database and the councils (for region audiences)
        assert cli(*args).exit_code == 0
    good = tmp_path / "deadlines.csv"
    good.write_text(
        HEADER
        + "ASMS-2099,Показники до АСМС,ASMS indicators,2099-03-01T18:00,all,,\n"
        + "GRANT-2099,Заявка на грант,Grant application,2099-02-01T17:00,region:Полтавська,,\n",
        encoding="utf-8",
    )
    first = cli("import", "deadlines", str(good))
    assert first.exit_code == 0, (first.stdout, first.stderr)
    assert "deadlines.csv: 2 rows; 2 added, 0 updated, 0 unchanged." in flat(first.stdout)
    again = cli("import", "deadlines", str(good))
    assert "deadlines.csv: 2 rows; 0 added, 0 updated, 2 unchanged." in flat(again.stdout)
    listed = cli("deadline", "list")
    assert "ASMS indicators" in listed.stdout and "region:Полтавська" in listed.stdout
    assert "Code" in listed.stdout and "GRANT-2099" in listed.stdout  # staff see the codes

    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + "ASMS-2099,Показники до АСМС,ASMS indicators,2099-03-01T18:00,all,,\n"
        + "X-1,Т,T,2099-13-01T10:00,all,,\n"
        + "X-2,Т,T,2099-03-01T10:00,region:Атлантида,,\n",
        encoding="utf-8",
    )
    result = cli("import", "deadlines", str(bad))
    assert result.exit_code == 1
    assert [int(n) for n in re.findall(r"line (\d+):", result.stderr)] == [3, 4]
    assert "Атлантида" in flat(result.stderr)
    uk = cli("import", "deadlines", str(bad), env={"LANG": "uk_UA.UTF-8"})
    assert "регіону «Атлантида» немає серед громад-членів" in flat(uk.stderr)
    assert rows(db_file, "deadline") == 2

    help_uk = cli("import", "deadlines", "--help", env={"LANG": "uk_UA.UTF-8"})
    assert "code,title_uk,title_en,due_at,audience" in flat(help_uk.stdout)
    assert "нічого не видаляється" in flat(help_uk.stdout)
