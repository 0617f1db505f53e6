"""One whole `/dues` update: latency including the send, CPU time, database round trips, profile.

    .venv/bin/python -m bench.bench_update
    .venv/bin/python -m bench.bench_update --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.bench_update --profile

On the benchmark dataset (2,000 councils, 100,000 payments) with `--officials` linked by
invite, the Application exactly as `amu-bot run` builds it (`build_application`, its own
Bot API request) sends its replies over HTTP to a FakeBotAPI in a child process, so the
send is part of the update and the fake's work is not part of this process's CPU time.
Updates are processed one after another with `Application.process_update`; the time of
one update runs from the raw update dict (parsed inside the timing) to the reply
acknowledged by the fake.

A share of the updates (`--first-share`, default 0.5) is a person's first in over an hour:
before such an update (outside the timing) the person's `last_seen_at` is set back two
hours, so the access gate takes its write path (last_seen update and commit), as it does
for most `/dues` in real use. Both paths are also reported separately.

Per run: p50/p95/p99/max latency, CPU milliseconds per update (`time.process_time`, so it
includes aiosqlite's worker thread; PostgreSQL's server CPU is not included), and the
database work per update (statements, commits, rollbacks; for SQLite also the hand-offs
to aiosqlite's thread). The figures are min / median / max of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import random
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from telegram import Update

from bench.bench_throughput import SubprocessFake
from bench.common import (
    FIRST_NAME,
    LANGUAGE,
    NOW,
    TOKEN,
    Latency,
    bench_database,
    link_officials,
    load_average,
    load_dataset,
    machine,
    run_and_save,
    server_version,
    verdict,
)
from bench.seed import SEED, generate
from bot.app import build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.context import Runtime
from bot.db import Database, RoundTrips, upgrade
from bot.i18n import Translator
from models import TelegramUser

P99_TARGET_MS = 20.0


def dues_update(update_id: int, user_id: int) -> dict[str, Any]:
    """What Telegram sends when a person types /dues in the private chat."""
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


async def rewind_last_seen(db: Database, user_id: int) -> None:
    """Make the person's next update their first in over an hour."""
    async with db.session() as session:
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.id) == user_id)
            .values(last_seen_at=NOW - timedelta(hours=2))
        )
        await session.commit()


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


PACKAGES = (
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "telegram",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "asyncio",
    "babel",
    "bot",
    "handlers",
    "json",
    "greenlet",
)


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time (tottime) grouped by the package a function lives in."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        tottime = row[2]
        parts = Path(filename).parts
        owner = "other"
        for package in PACKAGES:
            if package in parts:
                owner = package
                break
        if owner == "other" and filename.startswith("~"):
            owner = "builtins (C)"
        totals[owner] += tottime
    return sorted(totals.items(), key=lambda kv: -kv[1])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the numbers."""
    rng = random.Random(args.seed)
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="amu_bench_")))
        ds = generate(workdir / "csv", seed=args.seed)
        url = await stack.enter_async_context(bench_database(args.database_url, workdir))
        backend = await server_version(url)
        print(f"# bench_update on {backend}\n\n{machine()}\n")
        db = Database.from_url(url)
        stack.push_async_callback(db.dispose)
        await upgrade(db.engine)
        await load_dataset(db, ds)
        linked = await link_officials(db, rng.sample(ds.codes, args.officials))
        fake = SubprocessFake()
        stack.callback(fake.close)
        settings = Settings(
            bot_token=TOKEN,  # type: ignore[arg-type]
            bot_api_url=fake.base_url,
            admin_ids=frozenset(),
        )
        runtime = Runtime(
            settings=settings,
            db=db,
            translator=Translator(settings.tz),
            clock=FixedClock(settings.tz, at=NOW),
        )
        app = build_application(runtime, publish_commands=False)
        await app.initialize()
        stack.push_async_callback(app.shutdown)
        users = list(linked)
        ids = itertools.count(1)
        counter = RoundTrips(db.engine)

        async def one(
            user_id: int, first: bool, profiler: cProfile.Profile | None = None
        ) -> tuple[float, float]:
            if first:
                await rewind_last_seen(db, user_id)
            update_data = dues_update(next(ids), user_id)
            if profiler:
                profiler.enable()
            wall, cpu = time.perf_counter(), time.process_time()
            with counter:
                await app.process_update(Update.de_json(update_data, app.bot))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if profiler:
                profiler.disable()
            return wall, cpu

        plan = [(rng.choice(users), rng.random() < args.first_share) for _ in range(args.calls)]
        for user_id, first in plan[: args.warmup]:
            await one(user_id, first)
        runs: list[dict[str, Any]] = []
        for run_no in range(1, args.repeats + 2 if args.profile else args.repeats + 1):
            profiling = args.profile and run_no > args.repeats
            profiler = cProfile.Profile() if profiling else None
            mark = fake.mark()
            walls: dict[bool, list[float]] = {False: [], True: []}
            cpus: dict[bool, list[float]] = {False: [], True: []}
            load = load_average()
            counter.reset()
            for user_id, first in plan:
                wall, cpu = await one(user_id, first, profiler)
                walls[first].append(wall)
                cpus[first].append(cpu)
            replies = await fake.replies(len(plan), mark, within=120)
            wrong = [r for r in replies if not r.ok or linked[r.chat_id] not in r.text]
            if wrong:
                raise SystemExit(f"{len(wrong)} wrong replies, e.g. {wrong[0].summary}")
            if profiler:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
                print(f"\n## Profile of {len(plan)} updates (cProfile, main thread)\n")
                print("| package | own time | share |\n|---|---:|---:|")
                for package, seconds in by_package(stats):
                    print(f"| {package} | {seconds:.2f} s | {seconds / total:.0%} |")
                stats.sort_stats("tottime").print_stats(args.profile_rows)
                stats.sort_stats("cumulative").print_stats(args.profile_rows)
                print(out.getvalue())
                continue
            every = walls[False] + walls[True]
            per = counter.per(len(plan))
            result: dict[str, Any] = {
                "load": load,
                "all": Latency.of("all", every),
                "read": Latency.of("read path", walls[False]),
                "write": Latency.of("first in an hour", walls[True]),
                "cpu_ms": 1000 * sum(cpus[False] + cpus[True]) / len(plan),
                "cpu_read_ms": 1000 * statistics.mean(cpus[False]),
                "cpu_write_ms": 1000 * statistics.mean(cpus[True]),
                "round_trips": per,
                "first_share": len(walls[True]) / len(plan),
            }
            runs.append(result)
            print(
                f"run {run_no} (load {load}): p50 {result['all'].p50:.2f} ms, "
                f"p99 {result['all'].p99:.2f} ms, CPU {result['cpu_ms']:.2f} ms/update "
                f"(read {result['cpu_read_ms']:.2f}, first in an hour "
                f"{result['cpu_write_ms']:.2f}); per update: {per}"
            )
    share = runs[0]["first_share"]
    print(
        f"\n{args.calls} `/dues` updates from {len(users)} officials, "
        f"{share:.0%} of them a person's first in over an hour; "
        f"min / median / max of {len(runs)} runs\n"
    )
    print("| measure | read path | first in an hour | all |\n|---|---:|---:|---:|")
    for name, key in (("p50 ms", "p50"), ("p95 ms", "p95"), ("p99 ms", "p99"), ("max ms", "max")):
        cells = [
            _spread([getattr(r[path], key) for r in runs]) for path in ("read", "write", "all")
        ]
        print(f"| {name} | {' | '.join(cells)} |")
    cpu_cells = [
        _spread([r[key] for r in runs]) for key in ("cpu_read_ms", "cpu_write_ms", "cpu_ms")
    ]
    print(f"| CPU ms per update | {' | '.join(cpu_cells)} |")
    print(f"\ndatabase work per update (all paths): {runs[0]['round_trips']}")
    print(f"load average at the start of each run: {', '.join(r['load'] for r in runs)}")
    p99 = statistics.median(r["all"].p99 for r in runs)
    print(
        f"\ntarget: a whole /dues update incl. the send, p99 < {P99_TARGET_MS:.0f} ms: "
        f"{p99:.1f} ms (median of runs), {verdict(p99 < P99_TARGET_MS)}"
    )
    return {
        "backend": backend,
        "machine": machine(),
        "runs": [
            {
                **{k: v for k, v in r.items() if k not in ("all", "read", "write")},
                **{k: vars(r[k]) for k in ("all", "read", "write")},
            }
            for r in runs
        ],
    }


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description="one whole /dues update: latency, CPU, profile")
    parser.add_argument(
        "--database-url",
        help="postgresql+asyncpg://USER@HOST:PORT/DB (a fresh amu_bench_<hex> is created there "
        "and dropped), or sqlite+aiosqlite:///NEW_FILE; default: a temporary SQLite file",
    )
    parser.add_argument("--calls", type=int, default=1_000, help="measured updates per run")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--officials", type=int, default=200)
    parser.add_argument(
        "--first-share",
        type=float,
        default=0.5,
        help="share of updates that are a person's first in over an hour (gate writes)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", action="store_true", help="one more run under cProfile")
    parser.add_argument("--profile-rows", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    run_and_save(run, parser.parse_args())


if __name__ == "__main__":
    main()
