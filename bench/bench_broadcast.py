"""Broadcast and planner benchmarks for the notification engine.

1. Broadcast: an announcement to N officials, sent by the real dispatcher through
   python-telegram-bot to the local Bot API enforcing Telegram's limits (30 sends in any
   second, 1 a second per chat, 429 beyond; `bench/limited_api.py`). Reports the achieved
   rate ÷ 30, duplicates, losses and 429s, at the default pacing (25/s) and at 30/s.
2. Planner: one pass over 2,000 councils' charges (the `bench.seed` dataset) with 20,000
   linked officials, when many dues reminders fall due at once and when nothing new is due.

    .venv/bin/python -m bench.bench_broadcast [--recipients 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlmodel import col
from telegram import Bot
from telegram.request import HTTPXRequest

from bench.common import TOKEN, bench_database, load_dataset, machine, run_and_save, verdict
from bench.limited_api import serve_in_child
from bench.seed import generate
from bot.clock import Clock, ManualClock
from bot.db import Database, upgrade
from bot.i18n import Translator
from bot.notifications.dispatcher import Dispatcher
from bot.notifications.planner import plan
from bot.notifications.telegram_sender import TelegramSender
from bot.quiet_hours import QuietHours
from bot.services import announcements
from models import Member, Official, Outbox, OutboxStatus, TelegramUser

KYIV = ZoneInfo("Europe/Kyiv")
FIRST_ID = 20_000_001
LIMIT = 30.0
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


async def add_officials(db: Database, per_member: dict[int, int]) -> int:
    """Linked officials in bulk: `per_member[member_id]` each, half reading English."""
    users, officials = [], []
    tg = FIRST_ID
    for member_id, count in per_member.items():
        for _ in range(count):
            users.append(
                {
                    "id": tg,
                    "first_name": f"P{tg}",
                    "language": "en" if tg % 2 else "uk",
                    "created_at": NOW,
                    "last_seen_at": NOW,
                }
            )
            officials.append(
                {
                    "member_id": member_id,
                    "full_name": f"Official {tg}",
                    "position": "",
                    "phone": "",
                    "email": "",
                    "role": "official",
                    "telegram_id": tg,
                    "active": True,
                    "created_at": NOW,
                }
            )
            tg += 1
    async with db.session() as session:
        for start in range(0, len(users), 5000):
            await session.execute(insert(TelegramUser), users[start : start + 5000])
            await session.execute(insert(Official), officials[start : start + 5000])
        await session.commit()
    return len(users)


async def broadcast(url: str, recipients: int, rate: float, latency: float) -> dict[str, Any]:
    """One announcement to `recipients` officials through the paced dispatcher."""
    db = Database.from_url(url)
    await upgrade(db.engine)
    async with db.session() as session:
        session.add(
            Member(code="00000001", name_uk="Громада", name_en="Council", region="R", kind="city")
        )
        await session.commit()
        member_id = int((await session.execute(select(col(Member.id)))).scalar_one() or 0)
    await add_officials(db, {member_id: recipients})
    clock = Clock(KYIV)  # real time: retries wait for real
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=serve_in_child, args=(theirs, TOKEN, latency), daemon=True
    )
    child.start()
    base_url = await asyncio.to_thread(ours.recv)
    try:
        request = HTTPXRequest(connection_pool_size=64)
        bot = Bot(TOKEN, base_url=base_url, request=request)
        await bot.initialize()
        dispatcher = Dispatcher(
            db=db,
            sender=TelegramSender(bot),
            clock=clock,
            rate=rate,
            quiet=QuietHours.parse("off"),
            tz=KYIV,
        )
        await dispatcher.start()
        started = time.perf_counter()
        async with db.session() as session:
            item = await announcements.create(
                session=session,
                text="Форум громад відбудеться 12 березня в Києві.",
                audience="all",
                now=clock.now(),
                today=clock.today(),
            )
        expanded = time.perf_counter() - started
        while True:
            await dispatcher.drain(3600)
            async with db.session() as session:
                left = (
                    await session.execute(
                        select(func.count()).where(
                            col(Outbox.status).in_((OutboxStatus.PENDING, OutboxStatus.DEFERRED))
                        )
                    )
                ).scalar_one()
            if not left:
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        await dispatcher.stop()
        await bot.shutdown()
        ours.send("report")
        sends, rejected = await asyncio.to_thread(ours.recv)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    calls = [(chat, at) for chat, at, ok in sends if ok]
    async with db.session() as session:
        states = Counter(
            dict(
                (
                    await session.execute(
                        select(col(Outbox.status), func.count()).group_by(col(Outbox.status))
                    )
                ).all()
            )
        )
    await db.dispose()
    per_chat = Counter(chat for chat, _ in calls)
    window = (calls[-1][1] - calls[0][1]) if len(calls) > 1 else 0.0
    achieved = (len(calls) - 1) / window if window else 0.0
    return {
        "announcement": item.id,
        "recipients": recipients,
        "pacing": rate,
        "expand_s": round(expanded, 3),
        "elapsed_s": round(elapsed, 1),
        "delivered": len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values()),
        "lost": recipients - len(per_chat),
        "http_429": rejected,
        "achieved_per_s": round(achieved, 2),
        "ratio": round(achieved / LIMIT, 3),
        "statuses": dict(states),
    }


async def planner(url: str, workdir: Path) -> dict[str, Any]:
    """Planner passes over 2,000 councils' charges with 20,000 linked officials."""
    db = Database.from_url(url)
    await upgrade(db.engine)
    ds = generate(workdir / "data")
    await load_dataset(db, ds)
    async with db.session() as session:
        found = await session.execute(select(col(Member.id)).order_by(col(Member.id)))
        ids = [i for i in found.scalars() if i is not None]
    officials = await add_officials(db, {m: 10 for m in ids})
    translator = Translator(KYIV)
    timings: list[tuple[str, float, int]] = []
    # 24 March 2026, 10:00 Kyiv: the 7-day reminder of every 2026 charge (due 31 March) and
    # the monthly reminder of every unpaid 2024 and 2025 charge fall due at once.
    moments = [
        ("many reminders due at once", datetime(2026, 3, 24, 8, 0, tzinfo=UTC)),
        ("30 s later: nothing new", datetime(2026, 3, 24, 8, 0, 30, tzinfo=UTC)),
        ("next day: nothing new", datetime(2026, 3, 25, 9, 0, tzinfo=UTC)),
    ]
    for label, at in moments:
        clock = ManualClock(KYIV, at)
        started = time.perf_counter()
        result = await plan(db=db, clock=clock, translator=translator)
        seconds = time.perf_counter() - started
        timings.append((label, seconds, result.total if result else -1))
    await db.dispose()
    return {
        "officials": officials,
        "councils": len(ids),
        "charges": ds.charge_count,
        "passes": [
            {"label": label, "seconds": round(s, 3), "written": n} for label, s, n in timings
        ],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    print(machine())
    out: dict[str, Any] = {"machine": machine(), "broadcast": [], "planner": None}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.pacing:
            async with bench_database(args.database_url, Path(tmp) / f"b{rate}") as url:
                (Path(tmp) / f"b{rate}").mkdir(exist_ok=True)
                r = await broadcast(url, args.recipients, rate, args.latency_ms / 1000)
            out["broadcast"].append(r)
            target = 0.95 if rate >= LIMIT else 0.8
            print(
                f"broadcast pacing {rate:g}/s to {r['recipients']}: {r['achieved_per_s']}/s "
                f"= {r['ratio']} of 30 (target >= {target}) in {r['elapsed_s']} s; "
                f"duplicates {r['duplicates']}, lost {r['lost']}, 429s {r['http_429']} — "
                f"{verdict(r['ratio'] >= target and not r['duplicates'] and not r['lost'])}"
            )
        if not args.skip_planner:
            async with bench_database(args.database_url, Path(tmp)) as url:
                p = await planner(url, Path(tmp))
            out["planner"] = p
            for pass_ in p["passes"]:
                limit = 5.0 if pass_["written"] else 0.5
                print(
                    f"planner pass, {pass_['label']}: {pass_['seconds']} s, "
                    f"{pass_['written']} messages (target < {limit} s) — "
                    f"{verdict(pass_['seconds'] < limit)}"
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--pacing", type=float, nargs="*", default=[25.0, 30.0])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--skip-planner", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    run_and_save(run, parser.parse_args())


if __name__ == "__main__":
    main()
