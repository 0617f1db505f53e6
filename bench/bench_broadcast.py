"""Broadcast and planner benchmarks for the notification engine.

1. Broadcast: an announcement to N officials, sent by the real dispatcher through
   python-telegram-bot to the local Bot API enforcing Telegram's limits (30 sends in any
   second, 1 a second per chat, 429 beyond; `bench/limited_api.py`). Reports the achieved
   rate ÷ 30, duplicates, losses and 429s, at the default pacing (25/s) and at 30/s.
2. `/dues` while a broadcast runs: the bot exactly as `amu-bot run` builds it (polling,
   the planner and the dispatcher on its JobQueue) against the same limited Bot API with
   `--latency-ms` (default 20) on every call. People type `/dues` at random moments
   (`--asks-per-s`), first with nothing else going on, then while an announcement goes to
   `--recipients` officials. Reports p50/p95/p99 of the time from a person sending `/dues`
   to the reply reaching the Bot API, answers lost to a 429, and the broadcast's rate.
3. Planner: one pass over 2,000 councils' charges (the `bench.seed` dataset) with 20,000
   linked officials, when many dues reminders fall due at once and when nothing new is due.

    .venv/bin/python -m bench.bench_broadcast [--recipients 10000] [--database-url URL]
    .venv/bin/python -m bench.bench_broadcast --only dues --latency-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text, update
from sqlmodel import col
from telegram import Bot, Update
from telegram.request import HTTPXRequest

from bench.common import (
    NOW as DATASET_NOW,
)
from bench.common import (
    TOKEN,
    Latency,
    bench_database,
    import_file,
    link_officials,
    load_average,
    load_dataset,
    machine,
    run_and_save,
    verdict,
)
from bench.limited_api import serve_in_child
from bench.seed import generate
from bot.app import build_application
from bot.clock import Clock, FixedClock, ManualClock
from bot.config import Settings
from bot.context import Runtime
from bot.db import Database, upgrade
from bot.i18n import Translator
from bot.notifications.dispatcher import Dispatcher
from bot.notifications.planner import plan
from bot.notifications.telegram_sender import TelegramSender
from bot.quiet_hours import QuietHours
from bot.services import announcements
from bot.services.imports import ImportKind
from models import Event, Member, Official, Outbox, OutboxStatus, TelegramUser

KYIV = ZoneInfo("Europe/Kyiv")
DUES_P95_TARGET_MS = 300.0
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


class LimitedChild:
    """The limited Bot API in a child process, driven over a pipe (`serve_in_child`)."""

    def __init__(self, latency: float) -> None:
        self._conn, theirs = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=serve_in_child, args=(theirs, TOKEN, latency), daemon=True
        )
        self._process.start()
        self.base_url: str = self._conn.recv()

    async def ask(self, *command: Any) -> Any:
        """Send a command and wait for its answer in a worker thread."""

        def exchange() -> Any:
            self._conn.send(command)
            return self._conn.recv()

        return await asyncio.to_thread(exchange)

    def close(self) -> None:
        """Stop the child (its server stops with its last command, or with it)."""
        self._conn.send("report")
        self._conn.recv()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def reply_latencies(
    asks: list[tuple[int, float]], sends: list[tuple[int, float, bool]], latency: float
) -> tuple[list[float], int, int, int]:
    """Seconds from each ask to its reply accepted by the Bot API; unanswered; 429'd replies;
    those of them refused by the per-chat limit.

    A person's asks are paired in order with the accepted sends to their chat after them
    (askers get nothing else). The reply counts as arrived when the fake, after its
    `latency`, has accepted it.
    """
    by_chat: dict[int, list[float]] = {}
    refused: list[tuple[int, float]] = []
    askers = {user for user, _ in asks}
    for chat, at, ok in sends:
        if chat in askers:
            if ok:
                by_chat.setdefault(chat, []).append(at)
            else:
                refused.append((chat, at))
    waits: list[float] = []
    unanswered = 0
    taken: dict[int, int] = {}
    for user, asked in sorted(asks, key=lambda a: a[1]):
        replies = by_chat.get(user, [])
        i = taken.get(user, 0)
        while i < len(replies) and replies[i] < asked:
            i += 1
        if i < len(replies):
            waits.append(replies[i] + latency - asked)
            taken[user] = i + 1
        else:
            unanswered += 1
            taken[user] = i
    # A refusal within a second of an accepted send to the same chat is Telegram's one
    # message a second per chat (the person asked twice in a second), not the bot's 30.
    per_chat = sum(
        1 for chat, at in refused if any(0 <= at - t < 1.0 for t in by_chat.get(chat, []))
    )
    return waits, unanswered, len(refused), per_chat


async def started_sending(child: LimitedChild, askers: set[int]) -> None:
    """Return once the broadcast's first message has reached the Bot API."""
    for _ in range(600):
        if any(ok and chat not in askers for chat, _, ok in await child.ask("sends")):
            return
        await asyncio.sleep(0.1)
    raise SystemExit("the broadcast did not start within a minute")


async def dues_during_broadcast(
    url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """`/dues` reply times with nothing else going on, then during a broadcast."""
    latency_ms = 20.0 if args.latency_ms is None else args.latency_ms
    latency = latency_ms / 1000
    db = Database.from_url(url)
    await upgrade(db.engine)
    ds = generate(workdir / "data")
    await load_dataset(db, ds)
    async with db.session() as session:
        councils = (
            await session.execute(select(col(Member.id), col(Member.code), col(Member.region)))
        ).all()
    regions: dict[str, list[tuple[int, str]]] = {}
    for member_id, code, region in councils:
        regions.setdefault(region, []).append((int(member_id or 0), code))
    # The announcement goes to the region with the most councils; the people asking for
    # /dues live elsewhere, so no reply of theirs waits behind a broadcast message to them
    # (1 a second per chat).
    region = max(regions, key=lambda r: len(regions[r]))
    targets = regions[region]
    per_member = {m: args.recipients // len(targets) for m, _ in targets}
    for m, _ in targets[: args.recipients % len(targets)]:
        per_member[m] += 1
    recipients = await add_officials(db, per_member)
    others = [code for r, members in regions.items() if r != region for _, code in members]
    rng = random.Random(2026)
    askers = list(await link_officials(db, rng.sample(others, args.askers)))
    clock = FixedClock(KYIV, at=DATASET_NOW)  # 12:00 in Kyiv: no quiet hours
    translator = Translator(KYIV)
    # The dues reminders due at this moment went out long ago: only the broadcast is sent.
    await plan(db=db, clock=clock, translator=translator)
    async with db.session() as session:
        await session.execute(update(Outbox).values(status=OutboxStatus.SENT))
        await session.commit()

    child = LimitedChild(latency)
    settings = Settings(
        bot_token=TOKEN,  # type: ignore[arg-type]
        bot_api_url=child.base_url,
        admin_ids=frozenset(),
        send_rate=args.dues_pacing,
    )
    runtime = Runtime(settings=settings, db=db, translator=translator, clock=clock)
    app = build_application(runtime, publish_commands=False)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(
        poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES
    )
    await app.start()
    phases: dict[str, Any] = {}
    try:
        for phase, seconds in (("alone", args.alone_seconds), ("broadcast", args.dues_seconds)):
            if phase == "broadcast":
                async with db.session() as session:
                    await announcements.create(
                        session=session,
                        text="Форум громад відбудеться 12 березня в Києві.",
                        audience=f"region:{region}",
                        now=clock.now(),
                        today=clock.today(),
                    )
                await started_sending(child, set(askers))
            load = load_average()
            await child.ask("asks", askers, args.asks_per_s, seconds, len(phases))
            asks = await child.ask("asks_done")
            await asyncio.sleep(max(5.0, 1.0 + 10 * latency))  # the last replies
            sends = await child.ask("sends")
            waits, unanswered, refused, per_chat = reply_latencies(asks, sends, latency)
            start, end = min(t for _, t in asks), max(t for _, t in asks)
            broadcast_sent = sum(
                1 for chat, at, ok in sends if ok and chat not in askers and start <= at <= end
            )
            phases[phase] = {
                "load": load,
                "asks": len(asks),
                "latency": vars(Latency.of(phase, waits)),
                "unanswered": unanswered,
                "replies_429": refused,
                "replies_429_per_chat": per_chat,
                "broadcast_per_s": round(broadcast_sent / (end - start), 2) if end > start else 0,
            }
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        child.close()
    return {
        "recipients": recipients,
        "region": region,
        "askers": len(askers),
        "asks_per_s": args.asks_per_s,
        "latency_ms": latency_ms,
        "pacing": args.dues_pacing,
        "phases": phases,
    }


async def planner(url: str, workdir: Path, soon: int) -> dict[str, Any]:
    """Planner passes over the whole dataset the issue names, with every rule on.

    2,000 councils' charges (`bench.seed`), 20,000 linked officials (10 a council, half
    reading English), 1,000 events and trainings with 50,000 registrations. The first pass
    is at a moment when the 7-day reminder of every council's 2026 charge and the monthly
    one of every unpaid 2024 and 2025 charge fall due, and `soon` of the events start within
    the next day, so their 1-day reminders fall due too: the worst case, everything at once.
    """
    from bench.bench_events import _programme, seed_registrations

    db = Database.from_url(url)
    await upgrade(db.engine)
    ds = generate(workdir / "data")
    await load_dataset(db, ds)
    async with db.session() as session:
        found = await session.execute(select(col(Member.id)).order_by(col(Member.id)))
        ids = [i for i in found.scalars() if i is not None]
    officials = await add_officials(db, {m: 10 for m in ids})
    # 24 March 2026, 10:00 Kyiv: the 7-day reminder of every 2026 charge (due 31 March) and
    # the monthly reminder of every unpaid 2024 and 2025 charge fall due at once.
    moment = datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
    rng = random.Random(2026)
    events_csv, trainings_csv = _programme(
        workdir / "programme", rng, 1_000, around=moment, soon=soon
    )
    for kind, path in ((ImportKind.EVENTS, events_csv), (ImportKind.TRAININGS, trainings_csv)):
        await import_file(db, kind, path, kind.value)
    # Imported a month before the pass (the import stamps today's date): their "new event"
    # news went out long ago, so the pass sees only what falls due at that moment.
    async with db.session() as session:
        await session.execute(update(Event).values(created_at=moment - timedelta(days=30)))
        await session.commit()
    _people, events = await seed_registrations(db, rng, 50_000, now=moment)
    if db.engine.dialect.name == "postgresql":
        # A live database has statistics: autovacuum analyses a table within a minute of a
        # big load. Loaded a second ago, these tables have none, and PostgreSQL would plan
        # for 3 officials instead of 20,000 (a nested loop: 9 s for the dues fan-out).
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    translator = Translator(KYIV)
    timings: list[tuple[str, float, dict[str, int]]] = []
    moments = [
        ("everything due at once", moment),
        ("30 s later: nothing new", moment + timedelta(seconds=30)),
        ("next day: nothing new", moment + timedelta(days=1, hours=1)),
    ]
    for label, at in moments:
        clock = ManualClock(KYIV, at)
        started = time.perf_counter()
        result = await plan(db=db, clock=clock, translator=translator)
        seconds = time.perf_counter() - started
        timings.append((label, seconds, dict(result.written) if result else {}))
    await db.dispose()
    return {
        "officials": officials,
        "councils": len(ids),
        "charges": ds.charge_count,
        "events": len(events),
        "registrations": 50_000,
        "passes": [
            {"label": label, "seconds": round(s, 3), "written": sum(w.values()), "by_rule": w}
            for label, s, w in timings
        ],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    print(machine())
    out: dict[str, Any] = {"machine": machine(), "broadcast": [], "planner": None, "dues": None}
    only = set(args.only or ("broadcast", "dues", "planner"))
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.pacing if "broadcast" in only else ():
            async with bench_database(args.database_url, Path(tmp) / f"b{rate}") as url:
                (Path(tmp) / f"b{rate}").mkdir(exist_ok=True)
                r = await broadcast(url, args.recipients, rate, (args.latency_ms or 0) / 1000)
            out["broadcast"].append(r)
            target = 0.95 if rate >= LIMIT else 0.8
            print(
                f"broadcast pacing {rate:g}/s to {r['recipients']}: {r['achieved_per_s']}/s "
                f"= {r['ratio']} of 30 (target >= {target}) in {r['elapsed_s']} s; "
                f"duplicates {r['duplicates']}, lost {r['lost']}, 429s {r['http_429']} — "
                f"{verdict(r['ratio'] >= target and not r['duplicates'] and not r['lost'])}"
            )
        if "dues" in only:
            (Path(tmp) / "dues").mkdir()
            async with bench_database(args.database_url, Path(tmp) / "dues") as url:
                d = await dues_during_broadcast(url, Path(tmp) / "dues", args)
            out["dues"] = d
            for phase, figures in d["phases"].items():
                lat = figures["latency"]
                passed = lat["p95"] < DUES_P95_TARGET_MS and not figures["unanswered"]
                print(
                    f"/dues {phase} (load {figures['load']}): {figures['asks']} asks, "
                    f"p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, "
                    f"max {lat['max']:.0f} ms; unanswered {figures['unanswered']}, "
                    f"replies refused with 429 {figures['replies_429']} "
                    f"({figures['replies_429_per_chat']} of them a second ask within a second); "
                    f"broadcast "
                    f"{figures['broadcast_per_s']}/s to {d['recipients']} in {d['region']} "
                    f"(target p95 < {DUES_P95_TARGET_MS:.0f} ms) — {verdict(passed)}"
                )
        if "planner" in only:
            async with bench_database(args.database_url, Path(tmp)) as url:
                p = await planner(url, Path(tmp), args.soon)
            out["planner"] = p
            for pass_ in p["passes"]:
                limit = 5.0 if pass_["written"] else 0.5
                print(
                    f"planner pass, {pass_['label']}: {pass_['seconds']} s, "
                    f"{pass_['written']} messages {pass_['by_rule']} (target < {limit} s) — "
                    f"{verdict(pass_['seconds'] < limit)}"
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--pacing", type=float, nargs="*", default=[25.0, 30.0])
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=None,
        help="Bot API latency (0 for broadcast, 20 for dues)",
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--only", nargs="*", choices=("broadcast", "dues", "planner"))
    parser.add_argument("--askers", type=int, default=200, help="people who type /dues")
    parser.add_argument("--asks-per-s", type=float, default=2.0)
    parser.add_argument("--alone-seconds", type=float, default=30.0)
    parser.add_argument("--dues-seconds", type=float, default=120.0)
    parser.add_argument("--dues-pacing", type=float, default=25.0)
    parser.add_argument(
        "--soon", type=int, default=800, help="events starting within a day of the planner pass"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    run_and_save(run, args)


if __name__ == "__main__":
    main()
