"""Keep an update light: a /dues may cost only so many trips to the database (not timed)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import event, update
from sqlmodel import col
from telegram import Bot

from bot.botapi import JsonRequest
from bot.clock import FixedClock
from bot.db import SERVER_POOL_SIZE, SQLITE_POOL_SIZE, Database, RoundTrips
from bot.services import callers, dues, members
from models import Member, Payment, TelegramUser
from tests.conftest import NOW
from tests.harness import Harness
from tests.test_handlers import KREMENCHUK, OLENA, link

# The budget of one /dues from a linked official. Raise it only with a reason in the commit.
STATEMENTS = 2  # the access gate's one query, the council's charges and payments
ROLLBACKS = 0  # nothing was written, so there is nothing to roll back
HANDOFFS = 2  # SQLite: one trip to aiosqlite's thread per query
# A person's first update in over an hour also records that they were seen.
FIRST_STATEMENTS = STATEMENTS + 1
FIRST_COMMITS = 1  # SQLite; PostgreSQL commits a lone write by itself (no COMMIT sent)
FIRST_HANDOFFS = HANDOFFS + 1  # the write and its commit, in one trip
# PostgreSQL: reads and a lone write need no explicit transaction (no BEGIN to send).
BEGINS = 0


async def _dues(harness: Harness, db: Database) -> RoundTrips:
    counter = RoundTrips(db.engine)
    with counter:
        await harness.send(OLENA, "/dues")
    assert "04057287" in harness.request.texts()[-1]  # the statement was sent
    return counter


async def test_a_dues_update_stays_within_its_round_trip_budget(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.send(OLENA, "/dues")  # warm: statements compiled, connection pooled
    counter = await _dues(harness, examples)
    assert counter.statements <= STATEMENTS, counter.sql
    assert counter.commits == 0
    assert counter.rollbacks <= ROLLBACKS
    if examples.engine.dialect.name == "sqlite":
        assert counter.handoffs <= HANDOFFS
    assert counter.begins <= BEGINS


async def test_a_first_dues_in_an_hour_writes_once(examples: Database, harness: Harness) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    await harness.send(OLENA, "/dues")
    async with examples.session() as session:
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.id) == OLENA)
            .values(last_seen_at=NOW - timedelta(hours=2))
        )
        await session.commit()
    counter = await _dues(harness, examples)
    assert counter.statements <= FIRST_STATEMENTS, counter.sql
    sqlite = examples.engine.dialect.name == "sqlite"
    assert counter.commits == (FIRST_COMMITS if sqlite else 0)
    assert counter.rollbacks <= ROLLBACKS
    if sqlite:
        assert counter.handoffs <= FIRST_HANDOFFS
    assert counter.begins <= BEGINS
    assert isinstance(harness.runtime.clock, FixedClock)
    async with examples.session() as session:
        seen = await session.get(TelegramUser, OLENA)
        assert seen is not None and seen.last_seen_at == NOW


async def test_a_rollback_after_a_write_still_undoes_it(db: Database) -> None:
    # Rollbacks with nothing to undo are skipped on SQLite; real ones must still happen.
    counter = RoundTrips(db.engine)
    async with db.session() as session:
        session.add(TelegramUser(id=5, first_name="A", created_at=NOW, last_seen_at=NOW))
        await session.flush()
        with counter:
            await session.rollback()
    assert counter.rollbacks == 1
    async with db.session() as session:
        assert await session.get(TelegramUser, 5) is None


async def test_queries_run_on_the_driver_read_what_sqlalchemy_reads(
    examples: Database, harness: Harness
) -> None:
    # Query runs its compiled SQL on the driver itself; the rows must be those SQLAlchemy
    # gives, types included (SQLite keeps dates as text, datetimes without a zone).
    await link(harness, examples, OLENA, KREMENCHUK)
    async with examples.session() as session:
        member = await members.member_by_code(session=session, code=KREMENCHUK)
        assert member is not None and member.id is not None
        cases = [
            (callers._CALLER, {"telegram_id": OLENA}),
            (dues._LEDGER, {"member_id": member.id}),
        ]
        for query, params in cases:
            ours = await query.all(session, **params)
            theirs = [tuple(row) for row in await session.execute(query.statement, params)]
            assert ours == theirs
            assert [[type(v) for v in row] for row in ours] == [
                [type(v) for v in row] for row in theirs
            ]
            assert ours  # something was compared
    last_seen = (await _first(examples, OLENA))[5]
    assert isinstance(last_seen, datetime) and last_seen.tzinfo is not None
    assert last_seen == NOW


async def _first(db: Database, telegram_id: int) -> tuple[object, ...]:
    async with db.session() as session:
        row = await callers._CALLER.one_or_none(session, telegram_id=telegram_id)
    assert row is not None
    return row


async def test_the_gate_and_the_handler_share_one_connection(
    examples: Database, harness: Harness
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    checkouts: list[object] = []

    def checkout(dbapi: object, _record: object, _proxy: object) -> None:
        checkouts.append(dbapi)

    event.listen(examples.engine.sync_engine.pool, "checkout", checkout)
    try:
        await harness.send(OLENA, "/dues")
    finally:
        event.remove(examples.engine.sync_engine.pool, "checkout", checkout)
    assert KREMENCHUK in harness.request.texts()[-1]
    assert len(checkouts) == 1


async def test_tasks_started_in_an_update_get_connections_of_their_own(db: Database) -> None:
    async def inside() -> object:
        async with db.session() as session:
            return await session.connection()

    async with db.update_scope():
        async with db.session(keep_connection=True) as first:
            mine = await first.connection()
        async with db.session() as second:
            assert await second.connection() is mine  # one connection for the update
        other = await asyncio.create_task(inside())
    assert other is not mine


async def test_one_ledger_query_keeps_payments_of_a_council_without_charges(db: Database) -> None:
    # Charges and payments come back in one UNION; payments must not need a charge row.
    async with db.session() as session:
        member = Member(
            code="12345678",
            name_uk="Тестова сільська рада",
            name_en="Test Village Council",
            region="Полтавська",
            kind="village",
            created_at=NOW,
        )
        session.add(member)
        await session.flush()
        assert member.id is not None
        for i, amount in enumerate((150_000, 50_000)):
            session.add(
                Payment(
                    member_id=member.id,
                    amount_kop=amount,
                    paid_on=date(2025, 2, 1 + i),
                    reference=f"ПД-{i}",
                    created_at=NOW,
                )
            )
        await session.commit()
        st = await dues.statement(session=session, member_id=member.id, today=date(2025, 11, 20))
        history = await dues.payment_history(session=session, member_id=member.id)
    assert st.member.code == "12345678"
    assert st.credit_kop == 200_000 and st.payments_count == 2
    assert [item.paid_on for item in history.items] == [date(2025, 2, 2), date(2025, 2, 1)]


async def test_a_lone_write_joins_what_the_session_is_already_writing(db: Database) -> None:
    # Query.write sends its statement alone only when nothing else is pending; otherwise it
    # must join the session's transaction, and one commit keeps both.
    later = NOW + timedelta(hours=3)
    async with db.session() as session:
        session.add(TelegramUser(id=7, first_name="A", created_at=NOW, last_seen_at=NOW))
        await session.flush()
        await callers._SEEN.write(
            session,
            telegram_id=7,
            new_first_name="Б",
            new_last_name=None,
            new_username="b",
            new_language_code="uk",
            seen_at=later,
        )
    async with db.session() as session:
        user = await session.get(TelegramUser, 7)
    assert user is not None
    assert (user.first_name, user.username, user.last_seen_at) == ("Б", "b", later)


async def test_no_connection_is_held_while_the_bot_api_answers(db: Database) -> None:
    # The update's connection goes back to the pool before a Bot API call: Telegram may take
    # a while, and 32 updates in flight must not need 32 connections.
    pool: Any = db.engine.sync_engine.pool
    held: list[int] = []

    def telegram(request: httpx.Request) -> httpx.Response:
        held.append(pool.checkedout())
        result = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
        return httpx.Response(200, json={"ok": True, "result": result})

    request = JsonRequest(httpx_kwargs={"transport": httpx.MockTransport(telegram)})
    bot = Bot("700000001:TEST-token-never-sent", request=request)
    async with db.update_scope():
        async with db.session(keep_connection=True) as session:
            await callers._CALLER.all(session, telegram_id=1)
        assert pool.checkedout() == 1  # kept for the handler's session
        await bot.send_message(1, "…")
        async with db.session() as session:  # and taken again when needed
            await callers._CALLER.all(session, telegram_id=1)
            assert pool.checkedout() == 1
        assert pool.checkedout() == 0  # the handler's work is done: given back at once
    assert held == [0]
    assert pool.checkedout() == 0


async def test_sqlite_keeps_a_fixed_pool_and_reuses_the_last_connection(tmp_path: Path) -> None:
    # Each aiosqlite connection is a thread: overflow connections would be opened and closed
    # for every use, and connections handed out in turn would keep every thread busy.
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_timeout=0.2)
    try:
        pool: Any = db.engine.sync_engine.pool
        assert pool.size() == SQLITE_POOL_SIZE == 5
        held = [await db.engine.connect() for _ in range(SQLITE_POOL_SIZE)]
        raws = [(await c.get_raw_connection()).driver_connection for c in held]
        with pytest.raises(sqlalchemy.exc.TimeoutError):
            await db.engine.connect()
        for c in held:
            await c.close()
        for _ in range(3):  # one at a time: always the one given back last
            again = await db.engine.connect()
            assert (await again.get_raw_connection()).driver_connection is raws[-1]
            await again.close()
    finally:
        await db.dispose()
    memory = Database.from_url("sqlite+aiosqlite://")  # one shared connection, as before
    try:
        async with memory.session() as session:
            assert (await session.execute(sqlalchemy.text("select 1"))).scalar() == 1
    finally:
        await memory.dispose()


async def test_a_server_database_keeps_a_fixed_pool(migrated: Database) -> None:
    # Overflow connections were opened and closed for every use (65-85 per 3,000 updates).
    if migrated.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only")
    pool: Any = migrated.engine.sync_engine.pool
    assert pool.size() == SERVER_POOL_SIZE
    assert pool._max_overflow == 0
