"""Two real `amu-bot run` processes on one PostgreSQL database send each message once.

DESIGN's horizontal scaling: webhook workers behind a load balancer share the database, the
dispatchers claim disjoint outbox rows (`FOR UPDATE SKIP LOCKED`), the planner plans once
(advisory lock, dedupe keys). Both workers here run in webhook mode (two long-polling
processes would only take each other's getUpdates away, as Telegram's 409 says) against the
local Bot API over HTTP. A worker killed with SIGKILL loses nothing: its peer sees the
liveness lock gone, puts the rows it held back and sends them; only those may repeat.

PostgreSQL only: on SQLite amu-bot runs as one process and promises nothing more.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.localapi import Call, FakeBotAPI
from bot.notifications.dispatcher import DISPATCHER_NAMESPACE
from bot.services import deadlines, outbox
from models import OutboxStatus
from tests.test_e2e import TOKEN, _amu_bot, _env, stop_bot
from tests.test_notify_e2e import (
    FIRST,
    announce,
    delivered,
    ident,
    officials,
    statuses,
    until,
)


def _on_postgresql() -> bool:
    url = os.environ.get("AMU_TEST_DATABASE_URL") or ""
    return bool(url) and make_url(url).get_backend_name() == "postgresql"


pytestmark = pytest.mark.skipif(
    not _on_postgresql(), reason="PostgreSQL only: on SQLite amu-bot runs as one process"
)

N = 400  # officials: at 25/s a process, a broadcast of some seconds
NOTICE = "Загальні збори АМУ відбудуться 12 березня."
DEADLINE_UK, DEADLINE_EN = "Звіт про виконання бюджету", "Budget execution report"
Workers = list[tuple[subprocess.Popen[bytes], Path]]  # each process and its log


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN, bot_username="amu_e2e_bot") as api:
        yield api


def free_ports(n: int) -> list[int]:
    """`n` different local ports nobody listens on (all held open until all are chosen)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@contextmanager
def worker(
    fake: FakeBotAPI, database_url: str, log: Path, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """`amu-bot run` as a webhook worker; SIGINT, then SIGKILL, on the way out, whatever
    happened. Quiet hours are off (the test may run at night). Each worker paces itself at
    SEND_RATE: two send up to twice as many a second (the local Bot API does not count)."""
    env = _env(fake, database_url, QUIET_HOURS="off", SEND_RATE="25")
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [
                *_amu_bot(),
                "run",
                "--webhook-url",
                f"http://127.0.0.1:{port}/hook",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        stop_bot(proc)


@contextmanager
def two_workers(fake: FakeBotAPI, database_url: str, tmp_path: Path) -> Iterator[Workers]:
    """Two workers started at the same moment on the same database and the same Bot API."""
    with ExitStack() as stack:
        logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
        yield [
            (stack.enter_context(worker(fake, database_url, log, port)), log)
            for log, port in zip(logs, free_ports(2), strict=True)
        ]


async def live_dispatchers(db: Database) -> set[int]:
    """Owner ids of the dispatchers holding their liveness lock on this database (one per
    live process; pg_locks also shows the other databases' on the same server)."""
    async with db.session() as session:
        rows = await session.execute(
            text(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
                " AND classid = :ns AND granted AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": DISPATCHER_NAMESPACE},
        )
        return {int(owner) for owner in rows.scalars()}


async def both_dispatching(db: Database, workers: Workers) -> set[int]:
    """Wait until both processes' dispatchers run; their owner ids."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    while len(owners := await live_dispatchers(db)) < 2:
        for proc, log in workers:
            assert proc.poll() is None, log.read_text(encoding="utf-8")[-2000:]
        assert loop.time() < end, f"the dispatchers did not both start: {owners}"
        await asyncio.sleep(0.1)
    assert len(owners) == 2, owners
    return owners


@asynccontextmanager
async def watching_claims(db: Database) -> AsyncIterator[dict[int, set[int]]]:
    """Which dispatcher claimed which outbox row, sampled while the test runs.

    A claimed row is `sending` with its dispatcher's id for the seconds its batch takes; a
    sample every 50 ms sees (nearly) every batch. Row id -> the owners seen holding it.
    """
    seen: dict[int, set[int]] = defaultdict(set)

    async def sample() -> None:
        while True:
            async with db.session() as session:
                rows = await session.execute(
                    text("SELECT id, claimed_by FROM outbox WHERE status = 'sending'")
                )
                for row_id, owner in rows:
                    if owner is not None:
                        seen[row_id].add(owner)
            await asyncio.sleep(0.05)

    task = asyncio.get_running_loop().create_task(sample())
    try:
        yield seen
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def all_sent(db: Database, seconds: float, what: str) -> None:
    """Wait until every outbox row is `sent`: every send has returned and been recorded."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while set(state := await statuses(db)) != {OutboxStatus.SENT}:
        assert loop.time() < end, f"{what}: {state}"
        await asyncio.sleep(0.2)


def of_announcement(fake: FakeBotAPI) -> list[Call]:
    return [c for c in delivered(fake) if NOTICE in c.params["text"]]


def of_deadline(fake: FakeBotAPI) -> list[Call]:
    return [
        c
        for c in delivered(fake)
        if DEADLINE_UK in c.params["text"] or DEADLINE_EN in c.params["text"]
    ]


def repeats(calls: list[Call]) -> int:
    """Messages received more than once by the same chat (the extra copies)."""
    return sum(k - 1 for k in Counter(c.params["chat_id"] for c in calls).values())


@pytest.fixture
async def people(db: Database) -> list[int]:
    """N linked officials, and a deadline a day away: its reminder is due at start-up."""
    ids = await officials(db, N)
    now = datetime.now(UTC)
    async with db.session() as session:
        await deadlines.add(
            session=session,
            title_uk=DEADLINE_UK,
            title_en=DEADLINE_EN,
            due_at=now + timedelta(hours=20),
            now=now,
        )
    return ids


async def test_two_workers_send_every_message_once(
    db: Database, people: list[int], fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text(NOTICE, encoding="utf-8")
    with two_workers(fake, database_url, tmp_path) as workers:
        async with watching_claims(db) as claims:
            owners = await both_dispatching(db, workers)
            said = await announce(
                fake, database_url, tmp_path, "--audience", "all", "--text-file", str(notice)
            )
            assert f"recipients: {N}" in said
            await until(
                lambda: len(of_announcement(fake)) >= N and len(of_deadline(fake)) >= N,
                90,
                "not every official got the announcement and the deadline reminder",
            )
            await all_sent(db, 30, "the outbox was not emptied")
        report = await announce(fake, database_url, tmp_path, "status", ident(said))
        assert all(p.poll() is None for p, _ in workers)

    # Each official got each message exactly once: nothing lost, nothing twice.
    for calls in (of_announcement(fake), of_deadline(fake)):
        assert sorted(c.params["chat_id"] for c in calls) == people
    # The deadline reminder was planned once although both workers planned at start-up.
    assert (await statuses(db)) == Counter({OutboxStatus.SENT: 2 * N})
    assert re.search(rf"delivered: +{N}\n", report), report
    # Every row was claimed once (each claim counts an attempt), by one of the two workers.
    async with db.session() as session:
        attempts = await session.execute(text("SELECT attempts, count(*) FROM outbox GROUP BY 1"))
        assert {a: n for a, n in attempts} == {1: 2 * N}
    assert all(len(holders) == 1 and holders <= owners for holders in claims.values())
    # Both workers sent: the claims were shared.
    per_owner = Counter(next(iter(holders)) for holders in claims.values())
    assert set(per_owner) == owners, per_owner
    assert min(per_owner.values()) >= 25, per_owner  # at least one batch each
    for _, log in workers:
        assert "Traceback" not in log.read_text(encoding="utf-8")


async def test_a_killed_worker_s_messages_are_sent_by_the_other(
    db: Database, people: list[int], fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text(NOTICE, encoding="utf-8")
    with two_workers(fake, database_url, tmp_path) as workers:
        (victim, _), (survivor, survivor_log) = workers
        owners = await both_dispatching(db, workers)
        await until(lambda: len(of_deadline(fake)) >= N, 60, "the deadline reminders")
        said = await announce(
            fake, database_url, tmp_path, "--audience", "all", "--text-file", str(notice)
        )
        await until(lambda: len(of_announcement(fake)) >= N // 4, 60, "the broadcast")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        # Its database session dies with it, and with the session its liveness lock.
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while (alive := await live_dispatchers(db)) == owners:
            assert loop.time() < end, "the killed worker's lock outlived it"
            await asyncio.sleep(0.05)
        assert alive < owners, (owners, alive)
        [dead] = owners - alive
        async with db.session() as session:
            in_flight = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM outbox WHERE (status = 'sending'"
                        " AND claimed_by = :dead) OR last_error = 'resent after a crash'"
                    ),
                    {"dead": dead},
                )
            ).scalar_one()
        assert len(of_announcement(fake)) < N, "the broadcast ended before the kill; raise N"
        assert in_flight > 0, f"the killed worker held no messages: {await statuses(db)}"

        # The fake may have them all already (the killed worker's last sends arrived before
        # it died, unrecorded): done is when its rows are taken over, resent and recorded.
        await all_sent(db, 90, "the surviving worker did not finish the broadcast")
        report = await announce(fake, database_url, tmp_path, "status", ident(said))
        assert survivor.poll() is None

    announced = of_announcement(fake)
    assert {c.params["chat_id"] for c in announced} == set(people)  # no loss
    assert repeats(announced) <= in_flight  # at most what the killed worker had in flight
    assert repeats(of_deadline(fake)) == 0  # sent before the kill, never again
    assert re.search(rf"delivered: +{N}\n", report), report
    assert (await statuses(db)) == Counter({OutboxStatus.SENT: 2 * N})
    log = survivor_log.read_text(encoding="utf-8")
    assert "left in flight by a stopped dispatcher" in log  # the survivor took them over
    assert "Traceback" not in log


async def test_a_claim_skips_rows_another_process_is_claiming(db: Database) -> None:
    """The mechanism beneath, made deterministic: the workers above rarely claim at the same
    millisecond. Rows locked by a claim still in progress elsewhere are neither waited for
    nor taken twice; once that claim commits they are `sending` and nobody else's."""
    now = datetime.now(UTC)
    async with db.session() as session:
        for i in range(30):
            await outbox.enqueue(
                session=session,
                recipient=FIRST + i,
                text="x",
                kind="test",
                dedupe_key=f"k{i}",
                not_before=now,
            )
        await session.commit()
    other = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    try:
        async with other.session() as elsewhere:
            # What the other process's claim holds between its UPDATE and its COMMIT.
            held = (
                await elsewhere.execute(
                    text(
                        "UPDATE outbox SET status = 'sending', claimed_by = 1 WHERE id IN"
                        " (SELECT id FROM outbox ORDER BY id LIMIT 10 FOR UPDATE) RETURNING id"
                    )
                )
            ).scalars()
            theirs = set(held)
            async with db.session() as session:
                mine = await asyncio.wait_for(
                    outbox.claim(session=session, owner=2, now=now, limit=15), timeout=10
                )
            await elsewhere.commit()
        async with db.session() as session:
            rest = await outbox.claim(session=session, owner=2, now=now, limit=100)
    finally:
        await other.dispose()
    assert len(theirs) == 10
    assert len(mine) == 15 and not theirs & {c.id for c in mine}
    assert len(rest) == 5 and not theirs & {c.id for c in rest}
