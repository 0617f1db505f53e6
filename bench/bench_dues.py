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
* the peak RSS of the process.

A whole ``/dues`` update (access gate, service, rendering and the send to a Bot API over
HTTP) is measured by ``bench.bench_update``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
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

from bench.common import (
    LATENCY_HEADER,
    TODAY,
    Latency,
    Timed,
    bench_database,
    load_average,
    load_dataset,
    machine,
    peak_rss_mb,
    run_and_save,
    server_version,
    verdict,
)
from bench.seed import SEED, generate
from bot.db import Database, upgrade
from bot.services import dues
from models import Member

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
            finally:
                await db.dispose()
    rss = peak_rss_mb()
    print(f"\nload average now: {load_average()}\n")
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
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", action="store_true", help="cProfile imports and calls")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    run_and_save(run, parser.parse_args())


if __name__ == "__main__":
    main()
