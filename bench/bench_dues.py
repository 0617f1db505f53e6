"""Imports and /dues latency on a seeded database (2,000 councils, 100,000 payments).

    .venv/bin/python -m bench.bench_dues
    .venv/bin/python -m bench.bench_dues --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Measures, on a fresh database (a temporary SQLite file, or a throw-away ``amu_bench_<hex>``
database created on the PostgreSQL server the URL names and dropped afterwards):

* migration to head, then the CSV imports through ``bot.services.imports.import_csv``:
  members, charges, the 100,000 payments (the headline number) and a re-import of the same
  payments file, which must create nothing;
* ``dues.statement`` and ``dues.payment_history`` (page 0) for random councils, each call in
  its own session as the handlers do: p50, p95, p99 and max;
* ``/dues`` through the real ``Application.process_update`` (access gate, service, rendering,
  python-telegram-bot's request building) with the Bot API answered in-process, so it is
  the bot's own latency without the network;
* the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from telegram import Update

from bench.common import (
    FIRST_NAME,
    LANGUAGE,
    LATENCY_HEADER,
    NOW,
    TODAY,
    TOKEN,
    Latency,
    Timed,
    bench_database,
    link_officials,
    load_dataset,
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
from bot.services import dues
from models import Member
from tests.recording import RecordingRequest

IMPORT_TARGET_S = 30.0
P99_TARGET_MS = 20.0


async def _timed_calls(
    fn: Callable[[int], Awaitable[object]], ids: list[int], warmup: int
) -> list[float]:
    for i in ids[:warmup]:
        await fn(i)
    out = []
    for i in ids[warmup:]:
        started = time.perf_counter()
        await fn(i)
        out.append(time.perf_counter() - started)
    return out


def _dues_update(update_id: int, user_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": FIRST_NAME},
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": FIRST_NAME,
                "language_code": LANGUAGE,
            },
            "text": "/dues",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def _handler_latency(
    db: Database, linked: dict[int, str], rng: random.Random, calls: int, warmup: int
) -> Latency:
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
    users = list(linked)
    counter = itertools.count(1)

    async def one(user_id: int) -> None:
        update = Update.de_json(_dues_update(next(counter), user_id), app.bot)
        await app.process_update(update)

    try:
        seconds = await _timed_calls(
            one, [rng.choice(users) for _ in range(warmup + calls)], warmup
        )
    finally:
        await app.shutdown()
    texts = [(int(c.params["chat_id"]), str(c.params["text"])) for c in request.of("sendMessage")]
    if len(texts) != warmup + calls:
        raise SystemExit(f"/dues: {len(texts)} replies to {warmup + calls} updates")
    wrong = [(c, t[:80]) for c, t in texts if linked[c] not in t]
    if wrong:
        raise SystemExit(
            f"/dues: {len(wrong)} replies without the council's code, e.g. {wrong[0]}"
        )
    return Latency.of("/dues via Application.process_update", seconds)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the numbers."""
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="amu_bench_") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        ds = generate(workdir / "csv", seed=args.seed, payments=args.payments)
        generated = time.perf_counter() - started
        async with bench_database(args.database_url, workdir) as url:
            backend = await server_version(url)
            print(f"# bench_dues on {backend}\n\n{machine()}\n")
            print(
                f"dataset: {ds.councils} councils, {ds.charge_count} charges, "
                f"{ds.payment_count} payments ({ds.targeted} targeted), "
                f"generated in {generated:.1f} s"
            )
            db = Database.from_url(url)
            try:
                started = time.perf_counter()
                await upgrade(db.engine)
                migrate = time.perf_counter() - started
                profiler = cProfile.Profile() if args.profile else None
                if profiler:
                    profiler.enable()
                imports = await load_dataset(db, ds, reimport=True)
                if profiler:
                    profiler.disable()
                rss_after_import = peak_rss_mb()
                _print_imports(migrate, imports)

                async with db.session() as session:
                    ids = [
                        i for i in (await session.execute(select(col(Member.id)))).scalars() if i
                    ]
                picks = [rng.choice(ids) for _ in range(args.warmup + args.calls)]

                async def statement(member_id: int) -> None:
                    async with db.session() as session:
                        await dues.statement(session=session, member_id=member_id, today=TODAY)

                async def history(member_id: int) -> None:
                    async with db.session() as session:
                        await dues.payment_history(session=session, member_id=member_id, page=0)

                if profiler:
                    profiler.enable()
                latencies = [
                    Latency.of(
                        "dues.statement", await _timed_calls(statement, picks, args.warmup)
                    ),
                    Latency.of(
                        "dues.payment_history page 0",
                        await _timed_calls(history, picks, args.warmup),
                    ),
                ]
                if profiler:
                    profiler.disable()
                started = time.perf_counter()
                linked = await link_officials(db, rng.sample(ds.codes, args.officials))
                link_seconds = time.perf_counter() - started
                latencies.append(await _handler_latency(db, linked, rng, args.calls, args.warmup))
            finally:
                await db.dispose()
    rss = peak_rss_mb()
    print(f"\nlinked {len(linked)} officials (invite + redeem) in {link_seconds:.1f} s\n")
    print(LATENCY_HEADER)
    for lat in latencies:
        print(lat.row())
    print(f"\npeak RSS: {rss_after_import:.0f} MB after the imports, {rss:.0f} MB at the end")
    headline = next(t for t in imports if t.label == "payments")
    print(
        f"\ntarget: payments import < {IMPORT_TARGET_S:.0f} s: {headline.seconds:.1f} s, "
        f"{verdict(headline.seconds < IMPORT_TARGET_S)}"
    )
    for lat in latencies:
        print(
            f"target: {lat.label} p99 < {P99_TARGET_MS:.0f} ms: {lat.p99:.1f} ms, "
            f"{verdict(lat.p99 < P99_TARGET_MS)}"
        )
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
    return {
        "backend": backend,
        "machine": machine(),
        "migrate_s": migrate,
        "imports": [
            {
                "label": t.label,
                "seconds": t.seconds,
                "rows": t.result.rows,
                "created": t.result.created,
                "unchanged": t.result.unchanged,
            }
            for t in imports
        ],
        "latency_ms": [asdict(lat) for lat in latencies],
        "peak_rss_mb": rss,
        "peak_rss_after_import_mb": rss_after_import,
    }


def _print_imports(migrate: float, imports: list[Timed]) -> None:
    print(f"\nmigrate to head: {migrate:.2f} s\n")
    print("| import | rows | created | unchanged | seconds | rows/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for t in imports:
        r = t.result
        print(
            f"| {t.label} | {r.rows} | {r.created} | {r.unchanged} | {t.seconds:.2f} | "
            f"{r.rows / t.seconds:,.0f} |"
        )


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(
        description="amu-bot imports and /dues latency", usage=None, epilog=None
    )
    parser.add_argument(
        "--database-url",
        help="postgresql+asyncpg://USER@HOST:PORT/DB (a fresh amu_bench_<hex> is created there "
        "and dropped), or sqlite+aiosqlite:///NEW_FILE; default: a temporary SQLite file",
    )
    parser.add_argument("--calls", type=int, default=2_000, help="measured calls per function")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls first")
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--officials", type=int, default=200, help="linked for /dues")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", action="store_true", help="cProfile imports and calls")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    run_and_save(run, parser.parse_args())


if __name__ == "__main__":
    main()
