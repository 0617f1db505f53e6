"""Sample registrations for a demo or a tester's database (examples/registrations.csv).

Not a staff import: real registrations come from people pressing the button. This seeds who
registered, who waited and who attended, so /admin and /my are not empty in a demo. It writes
statuses as given (no deadline or capacity checks: the past is what it was), all or nothing,
and is idempotent: a row already there is left alone. Attended trainings get certificates.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import certificates
from models import Category, Event, Member, Official, Registration, RegistrationStatus, search_key

HEADER = ["event_code", "member_code", "full_name", "status"]


@dataclass
class SeedResult:
    """How many registrations were added, and the lines that could not be (nothing written)."""

    created: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


async def seed_registrations(*, session: AsyncSession, data: bytes, now: datetime) -> SeedResult:
    """Add the registrations of the file that are not there yet; one transaction."""
    result = SeedResult()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    if not rows or [h.strip() for h in rows[0]] != HEADER:
        result.problems.append(f"line 1: the header must be {','.join(HEADER)}")
        return result
    events = {e.code: e for e in (await session.execute(select(Event))).scalars()}
    members = {m.code: m for m in (await session.execute(select(Member))).scalars()}
    officials = {
        (o.member_id, search_key(o.full_name)): o
        for o in (await session.execute(select(Official))).scalars()
    }
    existing = {
        (r.event_id, r.official_id)
        for r in (await session.execute(select(Registration))).scalars()
    }
    planned = []
    for line, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(HEADER):
            result.problems.append(f"line {line}: {len(HEADER)} columns expected")
            continue
        event_code, member_code, full_name, status = (v.strip() for v in values)
        event, member = events.get(event_code), members.get(member_code)
        official = (
            officials.get((member.id or 0, search_key(full_name))) if member is not None else None
        )
        if event is None or member is None or official is None:
            result.problems.append(f"line {line}: unknown event, council or official")
            continue
        if status not in {s.value for s in RegistrationStatus}:
            result.problems.append(f"line {line}: unknown status {status!r}")
            continue
        planned.append((event, official, status))
    if result.problems:
        return result
    for n, (event, official, status) in enumerate(planned):
        if (event.id, official.id) in existing:
            result.unchanged += 1
            continue
        # Registered in file order, a few minutes apart, a week or more before the deadline.
        queued = min(now, event.registration_deadline or event.starts_at) - timedelta(
            days=7, minutes=len(planned) - n
        )
        reg = Registration(
            event_id=event.id or 0,
            official_id=official.id or 0,
            member_id=official.member_id,
            status=status,
            queued_at=queued,
            created_at=queued,
            updated_at=queued,
        )
        session.add(reg)
        await session.flush()
        existing.add((event.id or 0, official.id or 0))
        result.created += 1
        if status == RegistrationStatus.ATTENDED and event.category == Category.TRAINING:
            await certificates.issue(
                session=session, registration=reg, event=event, now=event.ends_at
            )
    await session.commit()
    return result
