"""Events and trainings at national scale: catalog, card, registration, a 100-person rush, PDFs.

    .venv/bin/python -m bench.bench_events
    .venv/bin/python -m bench.bench_events --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

On a fresh database (a temporary SQLite file, or a throw-away ``amu_bench_<hex>`` database on
the PostgreSQL server the URL names): 2,000 councils (``bench.seed``, through the real member
import), 20,000 officials (10 per council), 1,000 events and trainings over a year around
"today" (generated CSVs through the real ``import events`` / ``import trainings``) and
50,000 registrations (bulk-inserted: registrations have no import). Then, each call in its
own session as the handlers do:

* ``events.catalog`` (a random category, filter and page), ``events.event_card`` (a random
  event, seen by a random official) and ``events.register`` (a random official for a random
  upcoming event): p50/p95/p99/max; target p99 under 20 ms;
* the same three through the real ``Application.process_update`` (``/events``, ``ev:o:ID``,
  ``ev:r:ID``), the Bot API answered in-process;
* 100 officials registering at once for 50 seats, each in its own session and connection:
  exactly 50 registered and 50 waitlisted, and how long the rush took;
* rendering one certificate PDF (DejaVu Sans embedded, QR code): target under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import col
from telegram import Update

from bench.common import (
    LATENCY_HEADER,
    NOW,
    TOKEN,
    Latency,
    bench_database,
    import_file,
    machine,
    peak_rss_mb,
    run_and_save,
    server_version,
    verdict,
)
from bench.seed import SEED, generate
from bot.app import build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.context import Runtime
from bot.db import Database, upgrade
from bot.i18n import Translator
from bot.services import certificate_pdf, events
from bot.services.events import Outcome
from bot.services.imports import REQUIRED, ImportKind
from handlers.certificates import certificate_text
from models import (
    Category,
    Event,
    EventKind,
    Member,
    Official,
    Registration,
    RegistrationStatus,
    TelegramUser,
    TrainingFormat,
)
from tests.recording import RecordingRequest

P99_TARGET_MS = 20.0
PDF_TARGET_MS = 200.0
OFFICIALS_PER_COUNCIL = 10
FIRST_USER_ID = 20_000_001
SECTIONS = ("education", "finance", "housing", "energy", "digital", "land", "culture", "")


def _programme(
    directory: Path,
    rng: random.Random,
    count: int,
    *,
    around: datetime = NOW,
    soon: int = 0,
) -> tuple[Path, Path]:
    """Events (70 %) and trainings (30 %) from half a year before `around` to half a year
    after; the first `soon` of them start between 2 and 23 hours after `around`."""
    directory.mkdir(parents=True, exist_ok=True)
    events_path, trainings_path = directory / "events.csv", directory / "trainings.csv"
    with (
        events_path.open("w", newline="", encoding="utf-8") as ev,
        trainings_path.open("w", newline="", encoding="utf-8") as tr,
    ):
        ew, tw = csv.writer(ev, lineterminator="\n"), csv.writer(tr, lineterminator="\n")
        # The columns the importer reads, in its order; the optional limit last.
        ew.writerow([*REQUIRED[ImportKind.EVENTS], "per_council_limit"])
        tw.writerow(REQUIRED[ImportKind.TRAININGS])
        for n in range(count):
            if n < soon:
                start = around + timedelta(hours=rng.randint(2, 23))
            else:
                start = around + timedelta(days=rng.randint(-180, 180), hours=rng.randint(0, 8))
            start = start.replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(hours=rng.choice((2, 3, 6, 30)))
            deadline = start - timedelta(days=rng.choice((1, 3, 7)))
            capacity = rng.choice(("", "30", "50", "100", "400"))
            times = [start.isoformat(), end.isoformat()]
            if n % 10 < 7:
                kind = rng.choice([k.value for k in EventKind])
                ew.writerow(
                    [
                        f"EV-{n:05d}",
                        kind,
                        f"Захід № {n}",
                        f"Event No. {n}",
                        *times,
                        "Київ, вул. Хрещатик, 36",
                        capacity,
                        deadline.isoformat(),
                        rng.choice(SECTIONS),
                        "Опис заходу.",
                        "About the event.",
                        rng.choice(("", "", "3")),
                    ]
                )
            else:
                kind = rng.choice([f.value for f in TrainingFormat])
                tw.writerow(
                    [
                        f"TR-{n:05d}",
                        kind,
                        f"Навчання № {n}",
                        f"Training No. {n}",
                        *times,
                        rng.choice((2, 8, 16, 24)),
                        capacity,
                        deadline.isoformat(),
                        "Опис навчання.",
                        "About the training.",
                    ]
                )
    return events_path, trainings_path


async def _seed_people_and_registrations(
    db: Database, rng: random.Random, registrations: int
) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Officials (linked to Telegram users) and registrations; returns people and event ids."""
    await _seed_people(db)
    return await seed_registrations(db, rng, registrations)


async def _seed_people(db: Database) -> None:
    """OFFICIALS_PER_COUNCIL officials of every council, each linked to a Telegram user."""
    async with db.session() as session:
        members = list((await session.execute(select(col(Member.id)))).scalars())
        users, officials = [], []
        for n, (member_id, k) in enumerate(
            itertools.product(members, range(OFFICIALS_PER_COUNCIL))
        ):
            user_id = FIRST_USER_ID + n
            users.append(
                {
                    "id": user_id,
                    "first_name": "Olena",
                    "language_code": "uk",
                    "created_at": NOW,
                    "last_seen_at": NOW,
                }
            )
            officials.append(
                {
                    "member_id": member_id,
                    "full_name": f"Посадовець {n} {k}",
                    "position": "",
                    "phone": "",
                    "email": "",
                    "role": "official",
                    "telegram_id": user_id,
                    "linked_at": NOW,
                    "active": True,
                    "created_at": NOW,
                }
            )
        for start in range(0, len(users), 5_000):
            await session.execute(insert(TelegramUser), users[start : start + 5_000])
            await session.execute(insert(Official), officials[start : start + 5_000])
        await session.commit()


async def seed_registrations(
    db: Database, rng: random.Random, registrations: int, *, now: datetime = NOW
) -> tuple[list[tuple[int, int, int]], list[int]]:
    """`registrations` of random linked officials for random events, made before `now`, as
    the bot would have left them; returns the people (official, council, Telegram id) and
    the event ids."""
    async with db.session() as session:
        people = [
            (int(oid or 0), int(mid), int(tid or 0))
            for oid, mid, tid in await session.execute(
                select(col(Official.id), col(Official.member_id), col(Official.telegram_id))
            )
        ]
        capacities = {
            int(i or 0): cap
            for i, cap in await session.execute(select(col(Event.id), col(Event.capacity)))
        }
        event_ids = list(capacities)
        pairs: set[tuple[int, int]] = set()
        rows: list[dict[str, Any]] = []
        while len(rows) < registrations:
            oid, mid, _ = rng.choice(people)
            eid = rng.choice(event_ids)
            if (eid, oid) in pairs:
                continue
            pairs.add((eid, oid))
            at = now - timedelta(days=rng.randint(1, 200), seconds=rng.randint(0, 86_399))
            cancelled = rng.random() < 0.1
            rows.append(
                {
                    "event_id": eid,
                    "official_id": oid,
                    "member_id": mid,
                    "status": RegistrationStatus.CANCELLED if cancelled else None,
                    "queued_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        # As the bot would have left them: seats in order of arrival, then the waitlist.
        rows.sort(key=lambda r: (r["event_id"], r["queued_at"]))
        taken: dict[int, int] = {}
        for r in rows:
            if r["status"] is None:
                eid, cap = r["event_id"], capacities[r["event_id"]]
                seated = cap is None or taken.get(eid, 0) < cap
                r["status"] = (
                    RegistrationStatus.REGISTERED if seated else RegistrationStatus.WAITLISTED
                )
                taken[eid] = taken.get(eid, 0) + seated
        for start in range(0, len(rows), 5_000):
            await session.execute(insert(Registration), rows[start : start + 5_000])
        await session.commit()
    return people, event_ids


async def _event_planner(db: Database, upcoming: list[int]) -> list[tuple[str, float, int]]:
    """The planner's event rules: a pass after 100 events moved, then one with nothing new."""
    from bot.clock import ManualClock
    from bot.notifications import event_rules
    from bot.notifications.planner import Rule, plan

    rules = [
        Rule("event_changes", event_rules.plan_event_changes),
        Rule("event_reminders", event_rules.plan_event_reminders),
    ]
    translator = Translator(Settings().tz)
    async with db.session() as session:
        await session.execute(
            update(Event)
            .where(col(Event.id).in_(upcoming[:100]))
            .values(changed_at=NOW, sequence=col(Event.sequence) + 1)
        )
        await session.commit()
    out = []
    for label, at in (
        ("100 events moved, reminders due", NOW),
        ("30 s later: nothing new", NOW + timedelta(seconds=30)),
    ):
        started = time.perf_counter()
        result = await plan(
            db=db, clock=ManualClock(translator("uk").tz, at), translator=translator, rules=rules
        )
        out.append((label, time.perf_counter() - started, result.total if result else -1))
    return out


# CPU time this process spent per call (all its threads: aiosqlite runs queries in one), by
# label: on a shared machine, wall-clock percentiles include waiting for a core.
CPU_MS: dict[str, float] = {}


async def _measure(
    label: str, fn: Callable[[int], Awaitable[object]], n: int, warmup: int
) -> Latency:
    for i in range(warmup):
        await fn(i)
    out = []
    cpu_started = time.process_time()
    for i in range(warmup, warmup + n):
        started = time.perf_counter()
        await fn(i)
        out.append(time.perf_counter() - started)
    CPU_MS[label] = (time.process_time() - cpu_started) / n * 1000
    return Latency.of(label, out)


async def _rush(db: Database, people: list[tuple[int, int, int]]) -> dict[str, Any]:
    """100 officials at once for 50 seats, each in its own session."""
    async with db.session() as session:
        event = Event(
            code="RUSH",
            category=Category.EVENT,
            kind="forum",
            title_uk="Форум",
            title_en="Forum",
            starts_at=NOW + timedelta(days=30),
            ends_at=NOW + timedelta(days=31),
            capacity=50,
        )
        session.add(event)
        await session.commit()
        eid = event.id or 0

    async def one(who: tuple[int, int, int]) -> Outcome:
        async with db.session() as session:
            result = await events.register(
                session=session, event_id=eid, official_id=who[0], member_id=who[1], now=NOW
            )
        return result.outcome

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(who) for who in people[:100]))
    seconds = time.perf_counter() - started
    registered = outcomes.count(Outcome.REGISTERED)
    waitlisted = outcomes.count(Outcome.WAITLISTED)
    return {
        "registered": registered,
        "waitlisted": waitlisted,
        "seconds": seconds,
        "ok": registered == 50 and waitlisted == 50,
    }


def _update(
    update_id: int, user_id: int, *, text: str | None = None, data: str | None = None
) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Olena", "language_code": "uk"}
    chat = {"id": user_id, "type": "private", "first_name": "Olena"}
    if text is not None:
        return {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_700_000_000,
                "chat": chat,
                "from": user,
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
            },
        }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": user,
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": chat,
                "from": {"id": 1, "is_bot": True, "first_name": "AMU"},
                "text": "…",
            },
        },
    }


async def _through_the_bot(
    db: Database,
    people: list[tuple[int, int, int]],
    upcoming: list[int],
    rng: random.Random,
    calls: int,
    warmup: int,
) -> list[Latency]:
    settings = Settings(bot_token=TOKEN, admin_ids=frozenset())  # type: ignore[arg-type]
    runtime = Runtime(
        settings=settings,
        db=db,
        translator=Translator(settings.tz),
        clock=FixedClock(settings.tz, at=NOW),
    )
    request = RecordingRequest()
    app = build_application(
        runtime, request=request, updates_request=request, publish_commands=False
    )
    await app.initialize()
    counter = itertools.count(1)
    users = [p[2] for p in people]

    async def feed(raw: dict[str, Any]) -> None:
        await app.process_update(Update.de_json(raw, app.bot))

    out = []
    makers: tuple[tuple[str, Callable[[int], dict[str, Any]]], ...] = (
        ("/events via process_update", lambda u: _update(next(counter), u, text="/events")),
        (
            "card ev:o via process_update",
            lambda u: _update(next(counter), u, data=f"ev:o:{rng.choice(upcoming)}"),
        ),
        (
            "register ev:r via process_update",
            lambda u: _update(next(counter), u, data=f"ev:r:{rng.choice(upcoming)}"),
        ),
    )
    try:
        for label, make in makers:

            async def one(_i: int, make: Callable[[int], dict[str, Any]] = make) -> None:
                await feed(make(rng.choice(users)))

            out.append(await _measure(label, one, calls, warmup))
    finally:
        await app.shutdown()
    failures = [c for c in request.calls if c.method == "sendMessage" and "error" in str(c.params)]
    if failures:
        raise SystemExit(f"the bot answered with an error: {failures[0].params}")
    return out


def _pdf_times(n: int) -> tuple[float, list[float]]:
    from datetime import UTC, datetime

    from bot.services.certificates import CertificateView

    tr = Translator(Settings().tz)("uk")
    view = CertificateView(
        id=1,
        number="AMU-2026-00001",
        code="ABCDEFGH23",
        full_name="Олена Петренко",
        member_name_uk="Кременчуцька міська рада",
        member_name_en="Kremenchuk City Council",
        title_uk="Семінар для координаторів АСМС",
        title_en="ASMS coordinators' seminar",
        kind="seminar",
        starts_at=datetime(2026, 12, 9, 8, tzinfo=UTC),
        ends_at=datetime(2026, 12, 10, 14, tzinfo=UTC),
        hours=16,
        issued_at=datetime(2026, 12, 10, 14, tzinfo=UTC),
        official_id=1,
        telegram_id=1,
        language="uk",
    )
    text = certificate_text(tr, view, "https://t.me/amu_bot?start=verify-ABCDEFGH23")
    started = time.perf_counter()
    certificate_pdf.render(text)  # the first one also parses the fonts
    first = time.perf_counter() - started
    out = []
    cpu_started = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        certificate_pdf.render(text)
        out.append(time.perf_counter() - started)
    CPU_MS["certificate PDF render"] = (time.process_time() - cpu_started) / n * 1000
    return first, out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the numbers."""
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="amu_bench_") as tmp:
        workdir = Path(tmp)
        ds = generate(workdir / "csv", seed=args.seed, payments=4_000)  # only members are used
        events_csv, trainings_csv = _programme(workdir / "programme", rng, args.events)
        async with bench_database(args.database_url, workdir) as url:
            backend = await server_version(url)
            print(f"# bench_events on {backend}\n\n{machine()}\n")
            db = Database.from_url(url)
            try:
                await upgrade(db.engine)
                await import_file(db, ImportKind.MEMBERS, ds.members, "members")
                imported = [
                    await import_file(db, ImportKind.EVENTS, events_csv, "events"),
                    await import_file(db, ImportKind.TRAININGS, trainings_csv, "trainings"),
                ]
                started = time.perf_counter()
                people, _ids = await _seed_people_and_registrations(db, rng, args.registrations)
                seeded = time.perf_counter() - started
                print(
                    f"dataset: {ds.councils} councils, {len(people)} officials, "
                    f"{sum(t.result.created for t in imported)} events and trainings "
                    f"(imported in {sum(t.seconds for t in imported):.2f} s), "
                    f"{args.registrations} registrations (inserted in {seeded:.1f} s)\n"
                )
                async with db.session() as session:
                    upcoming = [
                        int(i or 0)
                        for i in (
                            await session.execute(
                                select(col(Event.id)).where(col(Event.starts_at) > NOW)
                            )
                        ).scalars()
                    ]
                    section_ids = [s.id for s in await events.sections(session=session)]
                free = list(people)
                rng.shuffle(free)

                async def catalog(_i: int) -> None:
                    category = rng.choice((Category.EVENT, Category.TRAINING))
                    async with db.session() as session:
                        await events.catalog(
                            session=session,
                            category=category,
                            now=NOW,
                            section_id=rng.choice([None, None, *section_ids])
                            if category == Category.EVENT
                            else None,
                            page=rng.randint(0, 20),
                        )

                async def card(_i: int) -> None:
                    oid, mid, _ = rng.choice(people)
                    async with db.session() as session:
                        await events.event_card(
                            session=session,
                            event_id=rng.choice(upcoming),
                            official_id=oid,
                            member_id=mid,
                        )

                outcomes: dict[str, int] = {}

                async def register(i: int) -> None:
                    oid, mid, _ = free[i]
                    async with db.session() as session:
                        result = await events.register(
                            session=session,
                            event_id=rng.choice(upcoming),
                            official_id=oid,
                            member_id=mid,
                            now=NOW,
                        )
                    outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1

                latencies = [
                    await _measure("events.catalog (a page)", catalog, args.calls, args.warmup),
                    await _measure("events.event_card", card, args.calls, args.warmup),
                    await _measure("events.register", register, args.calls, args.warmup),
                ]
                latencies += await _through_the_bot(
                    db, people[-2000:], upcoming, rng, args.calls // 2, args.warmup
                )
                rush = await _rush(db, people[2000:2100])
                planner = await _event_planner(db, upcoming)
            finally:
                await db.dispose()
        first_pdf, pdf = _pdf_times(args.pdfs)
    latencies.append(Latency.of("certificate PDF render", pdf))
    print(LATENCY_HEADER)
    for lat in latencies:
        print(lat.row())
    print("\n| measurement | CPU ms per call (this process) |\n|---|---:|")
    for label, ms in CPU_MS.items():
        print(f"| {label} | {ms:.2f} |")
    print(f"\nregistration outcomes: {outcomes}")
    print(f"first PDF (fonts parsed): {first_pdf * 1000:.0f} ms")
    print(
        f"100 at once for 50 seats: {rush['registered']} registered, {rush['waitlisted']} "
        f"waitlisted in {rush['seconds'] * 1000:.0f} ms: {verdict(rush['ok'])}"
    )
    for lat in latencies[:-1]:
        print(
            f"target: p99 {lat.label} < {P99_TARGET_MS:.0f} ms: {verdict(lat.p99 < P99_TARGET_MS)}"
        )
    print(
        f"target: p99 PDF render < {PDF_TARGET_MS:.0f} ms: "
        f"{verdict(latencies[-1].p99 < PDF_TARGET_MS)}"
    )
    for label, seconds, written in planner:
        print(f"planner, event rules, {label}: {seconds * 1000:.0f} ms, {written} messages")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    return {
        "event_planner": [
            {"label": label, "seconds": round(seconds, 3), "written": written}
            for label, seconds, written in planner
        ],
        "backend": backend,
        "machine": machine(),
        "latencies": [asdict(lat) for lat in latencies],
        "rush": rush,
        "first_pdf_ms": first_pdf * 1000,
        "outcomes": {str(k): v for k, v in outcomes.items()},
        "cpu_ms": CPU_MS,
    }


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--registrations", type=int, default=50_000)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--pdfs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", type=Path, default=None)
    run_and_save(run, parser.parse_args())


if __name__ == "__main__":
    main()
