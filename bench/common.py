"""What the benchmarks share: a throw-away database, loading the dataset, statistics."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import resource
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.seed import Dataset
from bot.db import Database, scratch_database
from bot.services import callers, invites
from bot.services.imports import ImportKind, ImportResult, import_csv
from models import Role

# The date the benchmarks treat as today: after the last generated payment.
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
POSTGRES_PREFIX = "amu_bench_"
# Only ever sent to the local fake or to an in-process stub.
TOKEN = "700000001:bench-not-a-secret"  # noqa: S105


def is_postgres(url: str) -> bool:
    """Whether the URL names a PostgreSQL server."""
    return make_url(url).get_backend_name() == "postgresql"


@asynccontextmanager
async def bench_database(url: str | None, workdir: Path) -> AsyncIterator[str]:
    """A fresh, empty database; SQLite in `workdir`, or `amu_bench_<hex>` on a PG server.

    For PostgreSQL the database named in `url` is only used to connect while creating and
    dropping the benchmark's own database, which is dropped (WITH FORCE) on the way out.
    """
    if url is None or make_url(url).get_backend_name() == "sqlite":
        path = workdir / "bench.db" if url is None else Path(make_url(url).database or "")
        if url is not None and path.exists():
            raise SystemExit(f"refusing to benchmark on an existing SQLite file: {path}")
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with scratch_database(url, prefix=POSTGRES_PREFIX) as scratch:
        yield scratch


@dataclass(frozen=True)
class Timed:
    """One import and how long it took."""

    label: str
    seconds: float
    result: ImportResult


async def import_file(
    db: Database, kind: ImportKind, path: Path, label: str, *, today: date = TODAY
) -> Timed:
    """Import one CSV through the real importer in its own session; fail loudly on problems."""
    data = await asyncio.to_thread(path.read_bytes)
    started = time.perf_counter()
    async with db.session() as session:
        result = await import_csv(session=session, kind=kind, data=data, today=today, now=NOW)
    seconds = time.perf_counter() - started
    if result.problems:
        shown = "; ".join(f"line {p.line}: {p.msgid} {p.params}" for p in result.problems[:5])
        raise SystemExit(f"{label}: {len(result.problems)} problems, e.g. {shown}")
    return Timed(label, seconds, result)


async def load_dataset(db: Database, ds: Dataset, *, reimport: bool = False) -> list[Timed]:
    """Members, charges and payments (and optionally the payments again), each timed."""
    timings = [
        await import_file(db, ImportKind.MEMBERS, ds.members, "members"),
        await import_file(db, ImportKind.CHARGES, ds.charges, "charges"),
        await import_file(db, ImportKind.PAYMENTS, ds.payments, "payments"),
    ]
    if reimport:
        again = await import_file(db, ImportKind.PAYMENTS, ds.payments, "payments again")
        if again.result.created:
            raise SystemExit(f"re-import created {again.result.created} payments, expected 0")
        timings.append(again)
    return timings


# What FakeBotAPI.send_message puts in `from` by default: linking with the same profile means
# the access gate finds nothing changed and /dues stays a read-only request.
FIRST_NAME = "Olena"
LANGUAGE = "uk"
FIRST_USER_ID = 10_000_001


async def link_officials(
    db: Database, codes: Sequence[str], *, now: datetime = NOW
) -> dict[int, str]:
    """Link one Telegram user per council code the way staff do: invite, then /start <code>.

    Returns {telegram user id: council code}.
    """
    linked: dict[int, str] = {}
    for i, code in enumerate(codes):
        user_id = FIRST_USER_ID + i
        profile = callers.Profile(
            telegram_id=user_id, first_name=FIRST_NAME, language_code=LANGUAGE
        )
        async with db.session() as session:
            (invite,) = await invites.create_invites(
                session=session, member_code=code, role=Role.OFFICIAL, count=1, now=now
            )
            await callers.identify(
                session=session, profile=profile, now=now, admin_ids=frozenset()
            )
            redeemed = await invites.redeem_invite(
                session=session, code=invite.code, profile=profile, now=now
            )
        if redeemed.outcome != invites.InviteOutcome.LINKED:
            raise SystemExit(f"linking user {user_id} to {code}: {redeemed.outcome}")
        linked[user_id] = code
    return linked


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Latency:
    """p50/p95/p99/max of a series of durations, in milliseconds."""

    label: str
    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, label: str, seconds: Sequence[float]) -> Latency:
        """Summarise durations given in seconds."""
        ms = sorted(s * 1000 for s in seconds)
        return cls(
            label,
            len(ms),
            percentile(ms, 50),
            percentile(ms, 95),
            percentile(ms, 99),
            ms[-1],
            sum(ms) / len(ms),
        )

    def row(self) -> str:
        """A Markdown table row."""
        return (
            f"| {self.label} | {self.count} | {self.p50:.2f} | {self.p95:.2f} | "
            f"{self.p99:.2f} | {self.max:.2f} | {self.mean:.2f} |"
        )


LATENCY_HEADER = (
    "| measurement | calls | p50 ms | p95 ms | p99 ms | max ms | mean ms |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


def verdict(passed: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return _load()


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def server_version(url: str) -> str:
    """The version of the database server behind `url`."""
    if not is_postgres(url):
        return f"SQLite {sqlite3.sqlite_version}"
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return f"PostgreSQL {version}"


def machine() -> str:
    """A one-paragraph description of where the numbers were measured."""
    import os

    import sqlalchemy
    import telegram

    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({_cpu_model()}), "
        f"{_memory_gb()} RAM, load average {_load()}; Python {platform.python_version()}, "
        f"python-telegram-bot {telegram.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def run_and_save(
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    args: argparse.Namespace,
) -> None:
    """Run a benchmark; with --json, also write its numbers there."""
    result = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
