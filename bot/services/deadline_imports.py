"""CSV import of deadlines: all or nothing, idempotent by code, never deleting.

`code,title_uk,title_en,due_at,audience[,description_uk,description_en]`. A row whose code is
new adds a deadline, a changed row updates it, and a deadline whose row is gone from the file
stays as it is (as events do). Moving `due_at` drops the reminders still queued for the old
moment in the same transaction; the planner's reminder keys carry the due moment, so the new
moment is reminded again (bot/notifications/planner.py, which also drops any stragglers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import N_
from bot.services import audiences
from bot.services.deadlines import DEADLINE_AUDIENCES, MAX_DESCRIPTION, MAX_TITLE
from bot.services.imports import ImportResult, Problem, _RowError, _text
from bot.services.outbox import CLAIMABLE
from bot.services.programme_imports import _code, _time
from models import Deadline, Member, Outbox, OutboxStatus

Rows = list[tuple[int, dict[str, str]]]
# What a deadline row sets, in the order the columns are checked.
FIELDS = ("title_uk", "title_en", "description_uk", "description_en", "due_at", "audience")


def _audience(row: dict[str, str], regions: set[str]) -> str:
    """`all` (also for an empty cell) or `region:NAME` of a region some council is in."""
    value = row.get("audience", "")
    if not value:
        return "all"
    try:
        parsed = audiences.parse(value)
    except audiences.AudienceError:
        raise _RowError(N_("import.error.deadline_audience"), value=value[:60]) from None
    if parsed.kind not in DEADLINE_AUDIENCES:
        raise _RowError(N_("import.error.deadline_audience"), value=value[:60])
    if parsed.kind == "region" and parsed.argument not in regions:
        raise _RowError(
            N_("import.error.unknown_region"),
            region=parsed.argument[:60],
            known=", ".join(sorted(regions)),
        )
    return str(parsed)


async def import_deadlines(
    session: AsyncSession, rows: Rows, result: ImportResult, *, now: datetime, tz: ZoneInfo
) -> None:
    """Check every row, then add new codes and update changed ones (the caller commits)."""
    existing = {
        d.code: d
        for d in (
            await session.execute(select(Deadline).where(col(Deadline.code).is_not(None)))
        ).scalars()
    }
    regions = set((await session.execute(select(col(Member.region)).distinct())).scalars())
    seen: dict[str, int] = {}
    valid: list[tuple[str, dict[str, Any]]] = []
    for line, row in rows:
        try:
            code = _code(row, seen, line)
            fields: dict[str, Any] = {
                "title_uk": _text(row, "title_uk", limit=MAX_TITLE),
                "title_en": _text(row, "title_en", limit=MAX_TITLE),
                "description_uk": _text(
                    row, "description_uk", required=False, limit=MAX_DESCRIPTION
                ),
                "description_en": _text(
                    row, "description_en", required=False, limit=MAX_DESCRIPTION
                ),
                "due_at": _time(row, "due_at", tz),
                "audience": _audience(row, regions),
            }
            known = existing.get(code)
            # A passed moment is refused where it would be news (a new deadline, or one moved
            # there): most likely a wrong year; an unchanged passed row re-imports quietly.
            if fields["due_at"] <= now and (known is None or known.due_at != fields["due_at"]):
                raise _RowError(N_("import.error.due_passed"), value=row["due_at"][:40])
            valid.append((code, fields))
        except _RowError as err:
            result.problems.append(Problem(line, err.msgid, err.params))
    if result.problems:
        return
    for code, fields in valid:
        deadline = existing.get(code)
        if deadline is None:
            session.add(Deadline(code=code, created_at=now, **fields))
            result.created += 1
            continue
        changed = [k for k in FIELDS if getattr(deadline, k) != fields[k]]
        if not changed:
            result.unchanged += 1
            continue
        if "due_at" in changed:
            await _drop_queued_reminders(session, deadline.id or 0)
        for k in changed:
            setattr(deadline, k, fields[k])
        result.updated += 1


async def _drop_queued_reminders(session: AsyncSession, deadline_id: int) -> None:
    """A moved deadline's reminders still waiting would tell people the old date: dropped
    with the move itself, so none can go out before the next planner pass."""
    await session.execute(
        update(Outbox)
        .where(
            col(Outbox.kind) == "deadline",
            col(Outbox.status).in_(CLAIMABLE),
            col(Outbox.dedupe_key).like(f"deadline:{deadline_id}:%"),
        )
        .values(status=OutboxStatus.DROPPED, last_error="the deadline moved")
        .execution_options(synchronize_session=False)
    )
