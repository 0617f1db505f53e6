"""Updates per second: amu-bot's /dues against a bare python-telegram-bot echo bot.

    .venv/bin/python -m bench.bench_throughput
    .venv/bin/python -m bench.bench_throughput --backends sqlite
    .venv/bin/python -m bench.bench_throughput --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Both bots poll the same local FakeBotAPI over HTTP (by default in a child process, so
that this process's CPU time is the bot's alone) with the same update scheduling: amu-bot's
`PerUserUpdateProcessor` (different people at once, each person in order, 32 in flight).

* echo: an Application with that scheduling and one ``MessageHandler(filters.TEXT, echo)``
  that answers ``update.message.reply_text(update.message.text)``; python-telegram-bot's
  default request;
* amu-bot: ``build_application(build_runtime(settings))`` exactly as ``amu-bot run`` builds
  it, on a database seeded with the benchmark dataset (2,000 councils, 100,000 payments)
  and N officials linked through invites (one per council), each sending "/dues".

A share of the `/dues` (``--first-share``) is a person's first in over an hour: before a
run, that many people get their ``last_seen_at`` set back two hours, so their first update
of the run takes the access gate's write path. The database work of each run is counted
and printed (the commits show the share really took the write path).

Per run: start polling, answer a warm-up batch, then queue all updates at once (from N users)
and time from queueing the first update to the fake recording the last reply; CPU time of
this process over the same span. The runs are interleaved (echo, amu on SQLite, amu on
PostgreSQL, and again) so that a disturbance from other work on the machine hits every bot
alike; min / median / max of the repeats are reported, with the load average of each run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import multiprocessing
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import col
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bench.common import (
    FIRST_NAME,
    LANGUAGE,
    TOKEN,
    bench_database,
    link_officials,
    load_average,
    load_dataset,
    machine,
    peak_rss_mb,
    run_and_save,
    server_version,
    verdict,
)
from bench.seed import SEED, Dataset, generate
from bot.app import CONCURRENT_UPDATES, build_application, build_runtime
from bot.botapi import POOL_SIZE, UPDATES_POOL_SIZE, JsonRequest
from bot.config import Settings
from bot.db import Database, RoundTrips, release_update_connection, upgrade
from bot.localapi import Call, FakeBotAPI
from bot.updates import PerUserUpdateProcessor
from models import TelegramUser

RATIO_TARGET = 0.50
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# The fake's timestamps (Call.at) are time.monotonic(); so are ours.
clock = time.monotonic


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say the same thing back."""
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


def echo_application(
    base_url: str, latency: float = 0.0
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bare python-telegram-bot baseline, with amu-bot's update scheduling."""
    builder = (
        Application.builder()
        .token(TOKEN)
        .base_url(base_url)
        .concurrent_updates(PerUserUpdateProcessor(CONCURRENT_UPDATES))
    )
    if latency:
        request, updates_request = delayed_requests(latency)
        builder = builder.request(request).get_updates_request(updates_request)
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


class DelayedRequest(HTTPXRequest):
    """HTTPXRequest that waits `delay` seconds before each call: a Bot API that far away."""

    def __init__(self, delay: float, connection_pool_size: int) -> None:
        super().__init__(connection_pool_size=connection_pool_size)
        self.delay = delay

    async def do_request(  # type: ignore[override]
        self, url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        """Sleep, then make the call."""
        await asyncio.sleep(self.delay)
        return await super().do_request(url, method, request_data, **kwargs)


class DelayedJsonRequest(JsonRequest):
    """amu-bot's own request, waiting `delay` seconds before each call."""

    def __init__(self, delay: float, connection_pool_size: int) -> None:
        super().__init__(connection_pool_size=connection_pool_size)
        self.delay = delay

    async def do_request(  # type: ignore[override]
        self, url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        """Sleep, then make the call; like JsonRequest, hold no database connection meanwhile."""
        await release_update_connection()
        await asyncio.sleep(self.delay)
        return await super().do_request(url, method, request_data, **kwargs)


def delayed_requests(delay: float, *, amu: bool = False) -> tuple[BaseRequest, BaseRequest]:
    """Each bot's own requests (pools of 256 and 1, as the builder makes), plus the delay."""
    if amu:
        return DelayedJsonRequest(delay, POOL_SIZE), DelayedJsonRequest(delay, UPDATES_POOL_SIZE)
    return DelayedRequest(delay, POOL_SIZE), DelayedRequest(delay, UPDATES_POOL_SIZE)


@dataclass(frozen=True)
class Reply:
    """A reply the fake recorded: when, whether it was accepted, to whom, what."""

    at: float
    ok: bool
    chat_id: int
    text: str
    summary: str

    @classmethod
    def of(cls, call: Call) -> Reply:
        """From a recorded call."""
        chat_id = call.params.get("chat_id")
        return cls(
            call.at,
            call.ok,
            chat_id if isinstance(chat_id, int) else 0,
            str(call.params.get("text", "")),
            call.summary(),
        )


class Driver(Protocol):
    """Acting as Telegram's users through a FakeBotAPI, here or in another process."""

    base_url: str

    def mark(self) -> int:
        """The current number of recorded calls."""
        ...

    def queue(self, users: Sequence[int], text: str) -> None:
        """Queue one message from each user, in order."""
        ...

    async def replies(self, count: int, since: int, within: float) -> list[Reply]:
        """Wait for `count` sendMessage calls after `since`."""
        ...

    def close(self) -> None:
        """Stop the fake."""
        ...


def _queue(fake: FakeBotAPI, users: Sequence[int], text: str) -> None:
    for user_id in users:
        fake.send_message(
            user_id=user_id, text=text, first_name=FIRST_NAME, language_code=LANGUAGE
        )


class InProcessFake:
    """The FakeBotAPI's threads share this process (and its GIL) with the bot."""

    def __init__(self) -> None:
        self.fake = FakeBotAPI(token=TOKEN).start()
        self.base_url = self.fake.base_url

    def mark(self) -> int:
        """The current number of recorded calls."""
        return self.fake.mark()

    def queue(self, users: Sequence[int], text: str) -> None:
        """Queue one message from each user."""
        _queue(self.fake, users, text)

    async def replies(self, count: int, since: int, within: float) -> list[Reply]:
        """Wait, without blocking the bot's event loop, for `count` replies."""
        calls = await self.fake.await_calls("sendMessage", count, since=since, timeout=within)
        return [Reply.of(c) for c in calls]

    def close(self) -> None:
        """Stop the fake."""
        self.fake.stop()


def _serve(conn: Connection) -> None:
    """The child process: a FakeBotAPI driven by commands over a pipe."""
    fake = FakeBotAPI(token=TOKEN).start()
    conn.send(fake.base_url)
    try:
        while True:
            command, *args = conn.recv()
            if command == "mark":
                conn.send(fake.mark())
            elif command == "queue":
                _queue(fake, *args)
                conn.send(None)
            elif command == "replies":
                count, since, timeout = args
                try:
                    calls = fake.wait_for_calls("sendMessage", count, since=since, timeout=timeout)
                    conn.send([Reply.of(c) for c in calls])
                except TimeoutError as exc:
                    conn.send(exc)
            else:
                break
    finally:
        fake.stop()
        conn.close()


class SubprocessFake:
    """The FakeBotAPI in a child process: its work no longer competes for the bot's GIL."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self.base_url: str = self._conn.recv()

    def _ask(self, *message: Any) -> Any:
        self._conn.send(message)
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def mark(self) -> int:
        """The current number of recorded calls."""
        return int(self._ask("mark"))

    def queue(self, users: Sequence[int], text: str) -> None:
        """Queue one message from each user (one round trip to the child)."""
        self._ask("queue", list(users), text)

    async def replies(self, count: int, since: int, within: float) -> list[Reply]:
        """Wait in a worker thread, so the bot's event loop keeps running."""
        result: list[Reply] = await asyncio.to_thread(self._ask, "replies", count, since, within)
        return result

    def close(self) -> None:
        """Stop the child."""
        with suppress(OSError):
            self._conn.send(("stop",))
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


@dataclass
class Series:
    """The runs of one bot."""

    label: str
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    work: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        """The median updates/s."""
        return statistics.median(self.rates)

    def spread(self) -> str:
        """min / median / max updates/s."""
        return f"{min(self.rates):.0f} / {self.median:.0f} / {max(self.rates):.0f}"

    def cpu_spread(self) -> str:
        """min / median / max CPU ms per update."""
        return (
            f"{min(self.cpu_ms):.2f} / {statistics.median(self.cpu_ms):.2f} / "
            f"{max(self.cpu_ms):.2f}"
        )


@dataclass(frozen=True)
class Measured:
    """One run: updates per second and this process's CPU milliseconds per update."""

    rate: float
    cpu_ms: float
    load: str


async def measure(
    app: Application[Any, Any, Any, Any, Any, Any],
    fake: Driver,
    users: list[int],
    updates: int,
    warmup: int,
    check: Callable[[list[Reply]], None],
    before: Callable[[], Awaitable[None]] | None = None,
) -> Measured:
    """Poll, warm up, queue `updates` at once and measure until the last reply."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        mark = fake.mark()
        fake.queue(users[:warmup], "/dues")
        check(await fake.replies(warmup, mark, within=120))
        if before is not None:
            await before()
        mark = fake.mark()
        load = load_average()
        cpu = time.process_time()
        started = clock()
        fake.queue([users[i % len(users)] for i in range(updates)], "/dues")
        replies = await fake.replies(updates, mark, within=900)
        finished = max(r.at for r in replies)
        cpu = time.process_time() - cpu
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    check(replies)
    return Measured(updates / (finished - started), 1000 * cpu / updates, load)


def check_echo(replies: list[Reply]) -> None:
    """Every reply is a successful echo of /dues."""
    bad = [r for r in replies if not r.ok or r.text != "/dues"]
    if bad:
        raise SystemExit(f"echo: {len(bad)} unexpected replies, e.g. {bad[0].summary}")


def check_statements(linked: dict[int, str]) -> Callable[[list[Reply]], None]:
    """Every reply is the statement of the sender's own council."""

    def check(replies: list[Reply]) -> None:
        bad = [r for r in replies if not r.ok or linked.get(r.chat_id, "?") not in r.text]
        if bad:
            raise SystemExit(f"amu-bot: {len(bad)} unexpected replies, e.g. {bad[0].summary}")

    return check


async def seed(url: str, ds: Dataset, officials: int) -> dict[int, str]:
    """Migrate, import the dataset and link `officials` users; returns {user id: code}."""
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
        started = clock()
        await load_dataset(db, ds)
        imported = clock() - started
        started = clock()
        # Linked "now" by the wall clock the bot reads: seen recently, until a run rewinds them.
        linked = await link_officials(db, ds.codes[:officials], now=datetime.now(UTC))
        print(
            f"  seeded in {imported:.1f} s, linked {len(linked)} officials in "
            f"{clock() - started:.1f} s"
        )
        return linked
    finally:
        await db.dispose()


async def rewind(db: Database, users: Sequence[int]) -> None:
    """Make the next update of each of `users` their first in over an hour."""
    async with db.session() as session:
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.id).in_(users))
            .values(last_seen_at=datetime.now(UTC) - timedelta(hours=2))
        )
        await session.commit()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the numbers."""
    logging.basicConfig(level=logging.WARNING)
    latency = args.api_latency_ms / 1000
    in_process = args.fake_in_process
    where = "in this process (shared GIL)" if in_process else "in a child process"
    results: dict[str, Any] = {
        "machine": machine(),
        "updates": args.updates,
        "fake": where,
        "api_latency_ms": args.api_latency_ms,
        "first_share": args.first_share,
        "runs": {},
    }
    print(f"# bench_throughput\n\n{results['machine']}\n")
    print(f"FakeBotAPI {where}; added Bot API latency {args.api_latency_ms} ms\n")
    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="amu_bench_")))
        fake: Driver = InProcessFake() if in_process else SubprocessFake()
        stack.callback(fake.close)
        databases: dict[str, tuple[str, dict[int, str]]] = {}
        ds = generate(workdir / "csv", seed=args.seed)
        for backend in args.backends:
            url = await stack.enter_async_context(
                bench_database(args.postgres_url if backend == "postgresql" else None, workdir)
            )
            label = f"amu-bot /dues, {await server_version(url)}"
            print(f"{label}: {url.rsplit('/', 1)[-1]}")
            linked = await seed(url, ds, args.officials)
            databases[label] = (url, linked)
        users = sorted(next(iter(databases.values()))[1]) if databases else []
        users = users or list(range(10_000_001, 10_000_001 + args.officials))
        firsts = round(args.first_share * args.updates)
        if firsts > len(users):
            raise SystemExit(
                f"--first-share {args.first_share} needs {firsts} people, there are "
                f"{len(users)}: link more (--officials)"
            )
        first_users = users[:firsts]  # round-robin: each one's first update in the run
        print(
            f"{args.updates} updates from {len(users)} people, {firsts} of them "
            f"({firsts / args.updates:.0%}) a person's first in over an hour\n"
        )
        series = {"echo": Series("python-telegram-bot echo, amu-bot's update scheduling")}
        series.update({label: Series(label) for label in databases})
        profiler = cProfile.Profile() if args.profile else None
        for round_no in range(1, args.repeats + 1):
            for key, s in series.items():
                before: Callable[[], Awaitable[None]] | None = None
                counter: RoundTrips | None = None
                if key == "echo":
                    app = echo_application(fake.base_url, latency)
                    check: Callable[[list[Reply]], None] = check_echo
                else:
                    url, linked = databases[key]
                    settings = Settings(
                        bot_token=TOKEN,  # type: ignore[arg-type]
                        bot_api_url=fake.base_url,
                        database_url=url,
                        admin_ids=frozenset(),
                    )
                    runtime = build_runtime(settings)
                    if latency:
                        request, updates_request = delayed_requests(latency, amu=True)
                        app = build_application(
                            runtime, request=request, updates_request=updates_request
                        )
                    else:
                        app = build_application(runtime)
                    check = check_statements(linked)
                    counter = RoundTrips(runtime.db.engine)

                    async def before(db: Database = runtime.db, c: RoundTrips = counter) -> None:
                        await rewind(db, first_users)
                        c.__enter__()

                if profiler and round_no == args.repeats:
                    profiler.enable()
                try:
                    m = await measure(
                        app, fake, users, args.updates, args.warmup, check, before=before
                    )
                finally:
                    if profiler:
                        profiler.disable()
                    if counter is not None:
                        counter.__exit__(None, None, None)
                        await runtime.db.dispose()
                s.rates.append(m.rate)
                s.cpu_ms.append(m.cpu_ms)
                s.loads.append(m.load)
                work = counter.per(args.updates) if counter else ""
                s.work.append(work)
                print(
                    f"  round {round_no} (load {m.load}): {s.label}: {m.rate:.0f} updates/s, "
                    f"{m.cpu_ms:.2f} CPU ms per update{'; ' + work if work else ''}"
                )
    echo = series["echo"]
    print(f"\nmin / median / max of {args.repeats} runs\n")
    print(
        "| bot | updates/s | CPU ms per update | ÷ echo (medians) | ÷ echo (per round) |\n"
        "|---|---:|---:|---:|---:|"
    )
    for s in series.values():
        rounds = [r / e for r, e in zip(s.rates, echo.rates, strict=True)]
        print(
            f"| {s.label} | {s.spread()} | {s.cpu_spread()} | {s.median / echo.median:.2f} | "
            f"{min(rounds):.2f} / {statistics.median(rounds):.2f} / {max(rounds):.2f} |"
        )
        results["runs"][s.label] = {
            "rates": s.rates,
            "median": s.median,
            "cpu_ms": s.cpu_ms,
            "loads": s.loads,
            "work": s.work,
        }
    for s in series.values():
        if s is not echo:
            ratio = s.median / echo.median
            print(
                f"target: {s.label} / echo >= {RATIO_TARGET:.2f}: {ratio:.2f}, "
                f"{verdict(ratio >= RATIO_TARGET)}"
            )
    print(f"\nload average at the start of each run: {', '.join(echo.loads)} (echo runs)")
    print(f"peak RSS of the bots' process: {peak_rss_mb():.0f} MB")
    results["peak_rss_mb"] = peak_rss_mb()
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        print(out.getvalue())
    return results


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description="amu-bot /dues vs an echo bot, updates/s")
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="server to create the throw-away amu_bench_<hex> database on",
    )
    parser.add_argument("--updates", type=int, default=3_000, help="queued per run")
    parser.add_argument(
        "--officials", type=int, default=1_500, help="linked users sending them (round-robin)"
    )
    parser.add_argument(
        "--first-share",
        type=float,
        default=0.5,
        help="share of updates that are a person's first in over an hour (gate writes)",
    )
    parser.add_argument(
        "--warmup", type=int, default=1_500, help="updates before each run, one per user at most"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--fake-in-process",
        action="store_true",
        help="run the FakeBotAPI in the bots' process (default: a child process)",
    )
    parser.add_argument(
        "--api-latency-ms",
        type=float,
        default=0.0,
        help="delay every Bot API call by this much, for both bots (a distant Telegram)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the last round")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    run_and_save(run, parser.parse_args())


if __name__ == "__main__":
    main()
