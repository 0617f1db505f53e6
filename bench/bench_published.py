"""The "new event" planner rule at scale: 20,000 officials follow a section, one new event.

    .venv/bin/python -m bench.bench_published
    .venv/bin/python -m bench.bench_published --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Prints one line per planner pass: the pass that tells every follower (target < 5 s) and the
pass 30 s later with nothing new (target < 0.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlmodel import col

from bot.clock import ManualClock
from bot.db import Database, scratch_database, upgrade
from bot.i18n import Translator
from bot.notifications.planner import plan
from models import Event, Member, Official, Section, SectionSubscription, TelegramUser

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 4, 2, 10, tzinfo=UTC)
TARGETS = (5.0, 0.5)


def _event(code: str, created_at: datetime, section: int | None) -> dict[str, object]:
    return {
        "code": code,
        "category": "event",
        "kind": "forum",
        "section_id": section,
        "title_uk": f"Захід {code}",
        "title_en": f"Event {code}",
        "starts_at": NOW + timedelta(days=10),
        "ends_at": NOW + timedelta(days=10, hours=2),
        "created_at": created_at,
    }


async def measure(url: str, officials: int, events: int) -> list[tuple[str, int, float]]:
    """Load the data, then time two planner passes."""
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        async with db.session() as s:
            await s.execute(
                insert(Member),
                [
                    {
                        "id": i,
                        "code": f"{i:08d}",
                        "name_uk": "x",
                        "name_en": "x",
                        "search_name": "",
                        "region": "R",
                        "kind": "city",
                    }
                    for i in range(1, 2001)
                ],
            )
            ids = range(100_000, 100_000 + officials)
            await s.execute(
                insert(TelegramUser),
                [
                    {"id": t, "first_name": "x", "language": "en" if t % 5 == 0 else None}
                    for t in ids
                ],
            )
            await s.execute(
                insert(Official),
                [
                    {"member_id": 1 + t % 2000, "full_name": "x", "telegram_id": t, "active": True}
                    for t in ids
                ],
            )
            # The migrations seed the association's sections; the first one is followed.
            section = (
                await s.execute(select(col(Section.id)).order_by(col(Section.id)).limit(1))
            ).scalar_one()
            await s.execute(
                insert(SectionSubscription),
                [{"telegram_id": t, "section_id": section} for t in ids],
            )
            old = NOW - timedelta(days=5)  # announced long ago: not news
            await s.execute(insert(Event), [_event(f"E{i}", old, section) for i in range(events)])
            await s.execute(insert(Event), [_event("NEW", NOW, section)])
            await s.commit()
        clock = ManualClock(KYIV, NOW)
        translator = Translator(KYIV)
        out = []
        for label in ("new event, every follower told", "30 s later, nothing new"):
            start = time.perf_counter()
            result = await plan(db=db, clock=clock, translator=translator)
            seconds = time.perf_counter() - start
            out.append((label, result.written["published"] if result else -1, seconds))
            clock.advance(seconds=30)
        return out
    finally:
        await db.dispose()


async def run(args: argparse.Namespace) -> list[tuple[str, int, float]]:
    """On a scratch database: a temporary SQLite file or a scratch PostgreSQL database."""
    if args.database_url:
        async with scratch_database(args.database_url, "amu_bench_pub_") as url:
            return await measure(url, args.officials, args.events)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return await measure(url, args.officials, args.events)


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--officials", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    for (label, written, seconds), target in zip(asyncio.run(run(args)), TARGETS, strict=True):
        verdict = "PASS" if seconds < target else "FAIL"
        print(
            f"planner pass, {label}: {seconds:.3f} s, {written} messages"
            f" (target < {target} s) — {verdict}"
        )


if __name__ == "__main__":
    main()
