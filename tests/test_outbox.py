"""The outbox and its dispatcher: idempotent enqueue, claims, pacing, Telegram's answers, quiet
hours, and recovery after a crash (SQLite, and PostgreSQL with AMU_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.clock import ManualClock
from bot.db import Database
from bot.notifications.dispatcher import (
    CEILING,
    MAX_ATTEMPTS,
    RECOVER_AFTER,
    REPLY_HOLD,
    SLOW_DOWN,
    TELEGRAM_PER_SECOND,
    WINDOW_MARGIN,
    Pacer,
    backoff,
)
from bot.notifications.sender import Blocked, OutcomeUnknown, Rejected, RetryLater, Transient
from bot.quiet_hours import QuietHours
from bot.services import outbox
from models import Member, Outbox, OutboxStatus, TelegramUser
from tests.notify_support import (
    START,
    FakeSender,
    FakeTime,
    add_member,
    add_person,
    dispatcher,
    outbox_rows,
)

KYIV = ZoneInfo("Europe/Kyiv")


def clock_at(at: datetime = START) -> ManualClock:
    return ManualClock(KYIV, at)


async def put(
    db: Database, recipient: int, key: str, *, urgent: bool = False, at: datetime = START
) -> None:
    async with db.session() as session:
        await outbox.enqueue(
            session=session,
            recipient=recipient,
            text=f"<b>hello</b> {key}",
            kind="test",
            dedupe_key=key,
            not_before=at,
            urgent=urgent,
        )
        await session.commit()


async def people(db: Database, *ids: int, quiet_hours: str | None = None) -> None:
    async with db.session() as session:
        member = await add_member(session, "10000001")
        for tg in ids:
            await add_person(session, tg, member, quiet_hours=quiet_hours)
        await session.commit()


async def test_enqueue_is_idempotent_on_the_dedupe_key(db: Database) -> None:
    async with db.session() as session:
        first = await outbox.enqueue(
            session=session, recipient=1, text="a", kind="t", dedupe_key="k", not_before=START
        )
        again = await outbox.enqueue(
            session=session, recipient=1, text="b", kind="t", dedupe_key="k", not_before=START
        )
        await session.commit()
    assert (first, again) == (True, False)
    rows = await outbox_rows(db)
    assert [(r.text, r.status) for r in rows] == [("a", OutboxStatus.PENDING)]


async def test_enqueue_shares_the_callers_transaction(db: Database) -> None:
    async with db.session() as session:
        session.add(Member(code="1", name_uk="x", name_en="x", region="r", kind="city"))
        await outbox.enqueue(
            session=session, recipient=1, text="a", kind="t", dedupe_key="k", not_before=START
        )
        await session.rollback()  # the change failed: its message must go with it
    assert await outbox_rows(db) == []


async def test_enqueue_refuses_empty_or_too_long_text(db: Database) -> None:
    async with db.session() as session:
        for text in ("  ", "x" * 4097):
            with pytest.raises(ValueError):
                await outbox.enqueue(
                    session=session,
                    recipient=1,
                    text=text,
                    kind="t",
                    dedupe_key=text[:5],
                    not_before=START,
                )


async def test_due_rows_are_sent_once_urgent_first(db: Database) -> None:
    await people(db, 1, 2, 3)
    await put(db, 1, "a")
    await put(db, 2, "b")
    await put(db, 3, "c", urgent=True)
    await put(db, 1, "later", at=START + timedelta(hours=1))
    sender = FakeSender()
    d = dispatcher(db, sender, clock_at())
    assert await d.drain() == 3
    assert sender.chats() == [3, 1, 2]
    assert sender.sent[0].text == "<b>hello</b> c"
    assert await d.drain() == 0  # nothing is sent twice
    rows = {r.dedupe_key: r for r in await outbox_rows(db)}
    assert rows["a"].status == OutboxStatus.SENT and rows["a"].sent_at == START
    assert rows["later"].status == OutboxStatus.PENDING


async def test_pacing_spaces_sends_overall_and_per_chat() -> None:
    time = FakeTime()
    pacer = Pacer(10, monotonic=time.monotonic, sleep=time.sleep)
    starts = []
    for chat in (1, 2, 3, 1):
        await pacer.wait(chat)
        starts.append(round(time.now - 1000.0, 3))
    # 10 a second overall; the second message to chat 1 waits a full second after its first.
    assert starts == [0.0, 0.1, 0.2, 1.0]
    pacer.pause(5)
    pacer.pause(5)  # a second 429 from a send already on its way: one slow-down, not two
    await pacer.wait(4)
    assert round(time.now - 1000.0, 3) == 6.0
    # After a 429 the pace eases off a little, and creeps back after a clean stretch.
    assert pacer.interval == pytest.approx(0.1 * SLOW_DOWN)
    for chat in range(100, 100 + RECOVER_AFTER):
        await pacer.wait(chat)
    assert pacer.interval == pytest.approx(0.1)


async def test_pacing_never_plans_above_the_ceiling() -> None:
    time = FakeTime()
    pacer = Pacer(30, monotonic=time.monotonic, sleep=time.sleep)
    for chat in range(60):
        await pacer.wait(chat)
    assert time.now - 1000.0 == pytest.approx(59 / CEILING)


async def test_a_late_wake_up_does_not_bunch_sends() -> None:
    time = FakeTime()

    lateness = [0.08]

    async def oversleep(seconds: float) -> None:
        await time.sleep(seconds + (lateness.pop() if lateness else 0.0))  # a busy loop, once

    pacer = Pacer(10, monotonic=time.monotonic, sleep=oversleep)
    starts = []
    for chat in range(3):
        await pacer.wait(chat)
        starts.append(time.now)
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(starts)), starts


async def test_429_pauses_everything_then_retries(db: Database) -> None:
    await people(db, 1, 2)
    await put(db, 1, "a")
    await put(db, 2, "b")
    sender = FakeSender(failures={1: [RetryLater(3)]})
    time = FakeTime()
    d = dispatcher(db, sender, clock_at(), time=time)
    await d.drain()
    assert sorted(sender.chats()) == [1, 2]
    assert max(time.sleeps) >= 2.9  # the pause Telegram asked for was kept
    assert {r.status for r in await outbox_rows(db)} == {OutboxStatus.SENT}


async def test_long_429_puts_the_row_back_for_later(db: Database) -> None:
    await people(db, 1)
    await put(db, 1, "a")
    sender = FakeSender(failures={1: [RetryLater(120)]})
    clock = clock_at()
    d = dispatcher(db, sender, clock)
    await d.drain()
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.PENDING
    assert row.not_before == START + timedelta(seconds=120)
    clock.advance(seconds=121)
    await d.drain()
    assert sender.chats() == [1]


async def test_403_blocks_the_person_and_is_never_retried(db: Database) -> None:
    await people(db, 1, 2)
    await put(db, 1, "a")
    await put(db, 1, "a2", at=START + timedelta(minutes=5))
    await put(db, 2, "b")
    sender = FakeSender(failures={1: [Blocked("Forbidden: bot was blocked by the user")]})
    clock = clock_at()
    d = dispatcher(db, sender, clock)
    await d.drain()
    clock.advance(minutes=10)
    await d.drain()
    assert sender.chats() == [2]
    assert sender.attempts == 2
    rows = {r.dedupe_key: r for r in await outbox_rows(db)}
    assert rows["a"].status == rows["a2"].status == OutboxStatus.BLOCKED
    assert "blocked" in (rows["a"].last_error or "")
    async with db.session() as session:
        person = await session.get(TelegramUser, 1)
        assert person is not None and person.blocked_at == START


async def test_connection_errors_back_off_then_give_up(db: Database) -> None:
    await people(db, 1)
    await put(db, 1, "a")
    sender = FakeSender(failures={1: [Transient("connection refused")] * (MAX_ATTEMPTS + 1)})
    clock = clock_at()
    d = dispatcher(db, sender, clock)
    await d.drain()
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.not_before == START + backoff(1)
    await d.drain()
    assert sender.attempts == 1  # not before its time
    for _ in range(MAX_ATTEMPTS):
        clock.advance(minutes=11)
        await d.drain()
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, MAX_ATTEMPTS)
    assert "connection refused" in (row.last_error or "")
    assert sender.sent == []


async def test_connection_error_then_success(db: Database) -> None:
    await people(db, 1)
    await put(db, 1, "a")
    sender = FakeSender(failures={1: [Transient("reset")]})
    clock = clock_at()
    d = dispatcher(db, sender, clock)
    await d.drain()
    clock.advance(seconds=3)
    await d.drain()
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts, sender.chats()) == (OutboxStatus.SENT, 2, [1])


async def test_read_timeout_is_not_resent(db: Database) -> None:
    await people(db, 1, 2)
    await put(db, 1, "a")
    await put(db, 2, "b")
    sender = FakeSender(
        failures={1: [OutcomeUnknown("timed out waiting for Telegram")], 2: [Rejected("too long")]}
    )
    clock = clock_at()
    d = dispatcher(db, sender, clock)
    await d.drain()
    clock.advance(hours=1)
    await d.drain()
    assert sender.attempts == 2
    rows = {r.dedupe_key: r for r in await outbox_rows(db)}
    assert rows["a"].status == OutboxStatus.FAILED
    assert (rows["a"].last_error or "").startswith("outcome unknown")
    assert rows["b"].status == OutboxStatus.FAILED


@pytest.mark.parametrize(
    ("own", "deferred"),
    [(None, True), ("off", False), ("23:00-07:00", False), ("20:00-09:30", True)],
)
async def test_quiet_hours_defer_non_urgent_messages_to_the_morning(
    db: Database, own: str | None, deferred: bool
) -> None:
    night = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)  # 22:30 in Kyiv
    await people(db, 1, quiet_hours=own)
    await put(db, 1, "a", at=night)
    await put(db, 1, "urgent", urgent=True, at=night)
    sender = FakeSender()
    clock = clock_at(night)
    d = dispatcher(db, sender, clock)
    await d.drain()
    rows = {r.dedupe_key: r for r in await outbox_rows(db)}
    assert rows["urgent"].status == OutboxStatus.SENT
    if not deferred:
        assert rows["a"].status == OutboxStatus.SENT
        return
    morning = QuietHours.parse(own or "21:00-08:00").ends_after(night, KYIV)
    assert rows["a"].status == OutboxStatus.DEFERRED
    assert rows["a"].not_before == morning
    assert rows["a"].attempts == 0  # waiting is not an attempt
    async with db.session() as session:
        report_rows = await session.execute(
            select(col(Outbox.status)).where(col(Outbox.dedupe_key) == "a")
        )
        assert report_rows.scalar_one() == OutboxStatus.DEFERRED
    clock.set(morning - timedelta(minutes=1))
    await d.drain()
    assert len(sender.sent) == 1
    clock.set(morning)
    await d.drain()
    assert sender.chats() == [1, 1]


def test_quiet_hours_parse_and_bounds() -> None:
    q = QuietHours.parse("21:00-08:00")
    assert str(q) == "21:00-08:00"
    assert q.contains(datetime(2026, 3, 2, 19, 0, tzinfo=UTC), KYIV)  # 21:00 Kyiv
    assert not q.contains(datetime(2026, 3, 2, 6, 0, tzinfo=UTC), KYIV)  # 08:00 Kyiv
    assert q.ends_after(datetime(2026, 3, 2, 19, 0, tzinfo=UTC), KYIV) == datetime(
        2026, 3, 3, 6, 0, tzinfo=UTC
    )
    assert QuietHours.parse("off").off
    for bad in ("25:00-08:00", "21-08", "", "21:00-08:60"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad)


async def test_expired_messages_are_dropped_not_sent_late(db: Database) -> None:
    await people(db, 1)
    async with db.session() as session:
        await outbox.enqueue(
            session=session,
            recipient=1,
            text="deadline tomorrow",
            kind="deadline",
            dedupe_key="d",
            not_before=START,
            expires_at=START + timedelta(hours=1),
        )
        await session.commit()
    sender = FakeSender()
    clock = clock_at(START + timedelta(hours=2))
    await dispatcher(db, sender, clock).drain()
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.DROPPED and sender.sent == []


async def test_blocked_people_are_not_even_tried(db: Database) -> None:
    await people(db, 1)
    async with db.session() as session:
        await session.execute(update(TelegramUser).values(blocked_at=START))
        await session.commit()
    await put(db, 1, "a")
    sender = FakeSender()
    await dispatcher(db, sender, clock_at()).drain()
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.BLOCKED and sender.attempts == 0


async def test_rows_in_flight_at_a_crash_are_sent_again_and_only_those(db: Database) -> None:
    await people(db, *range(1, 11))
    for tg in range(1, 11):
        await put(db, tg, f"m{tg}")
    clock = clock_at()
    crashed = dispatcher(db, FakeSender(), clock, batch=4)
    await crashed.start()
    async with db.session() as session:  # claimed, then the process died before recording
        in_flight = await outbox.claim(session=session, owner=crashed.owner, now=START, limit=4)
    await crashed.stop()  # its liveness lock goes with its connection
    sender = FakeSender()
    restarted = dispatcher(db, sender, clock)
    await restarted.start()
    await restarted.drain()
    await restarted.stop()
    assert sorted(sender.chats()) == list(range(1, 11))
    rows = await outbox_rows(db)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    resent = {r.recipient for r in rows if r.attempts == 2}
    assert resent == {c.recipient for c in in_flight}


async def test_a_live_dispatchers_rows_are_left_alone(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves one process: every foreign in-flight row is an orphan")
    await people(db, 1, 2)
    await put(db, 1, "a")
    await put(db, 2, "b")
    clock = clock_at()
    alive = dispatcher(db, FakeSender(), clock)
    await alive.start()
    async with db.session() as session:
        await outbox.claim(session=session, owner=alive.owner, now=START, limit=1)
    sender = FakeSender()
    other = dispatcher(db, sender, clock)
    await other.start()
    await other.drain()
    assert len(sender.sent) == 1  # only the unclaimed row
    await alive.stop()
    await other.recover()
    await other.drain()
    await other.stop()
    assert sorted(sender.chats()) == [1, 2]


async def test_two_dispatchers_send_each_message_once(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL (SQLite serves one process)")
    n = 300
    async with db.session() as session:
        member = await add_member(session, "10000001")
        for tg in range(1, n + 1):
            await add_person(session, tg, member)
        for tg in range(1, n + 1):
            await outbox.enqueue(
                session=session,
                recipient=tg,
                text="x",
                kind="t",
                dedupe_key=f"k{tg}",
                not_before=START,
            )
        await session.commit()
    sender = FakeSender()
    clock = clock_at()
    second_db = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    try:
        a = dispatcher(db, sender, clock, rate=30, batch=20)
        b = dispatcher(second_db, sender, clock, rate=30, batch=20)
        await a.start()
        await b.start()
        handled = await asyncio.gather(a.drain(60), b.drain(60))
        await a.stop()
        await b.stop()
    finally:
        await second_db.dispose()
    assert sorted(sender.chats()) == list(range(1, n + 1))
    assert all(handled), handled  # both took part
    assert {r.status for r in await outbox_rows(db)} == {OutboxStatus.SENT}


async def test_delivery_report_counts_by_status(db: Database) -> None:
    now = START
    async with db.session() as session:
        from models import Announcement

        item = Announcement(text="x", audience="all", send_at=now, expanded_at=now)
        session.add(item)
        await session.flush()
        statuses = ["sent", "sent", "blocked", "failed", "deferred", "pending", "sending"]
        for i, status in enumerate(statuses):
            await outbox.enqueue(
                session=session,
                recipient=i,
                text="x",
                kind="announcement",
                dedupe_key=f"a{i}",
                not_before=now,
                announcement_id=item.id,
            )
            await session.execute(
                update(Outbox).where(col(Outbox.dedupe_key) == f"a{i}").values(status=status)
            )
        await session.commit()
        report = await outbox.delivery_report(session=session, announcement_id=item.id or 0)
    assert (report.delivered, report.blocked, report.failed, report.waiting, report.pending) == (
        2,
        1,
        1,
        1,
        2,
    )
    assert report.total == len(statuses)


async def test_a_stopping_dispatcher_puts_unsent_rows_back(db: Database) -> None:
    await people(db, 1, 2, 3, 4, 5)
    for tg in (1, 2, 3, 4, 5):
        await put(db, tg, f"m{tg}")
    sender = FakeSender()
    d = dispatcher(db, sender, clock_at(), batch=5)
    # Asked once before the batch and once before each send: the bot starts stopping
    # once two sends have been started.
    asked = itertools.count()
    assert await d.drain(keep_going=lambda: next(asked) < 3) == 5
    assert sender.chats() == [1, 2]
    rows = {r.dedupe_key: r for r in await outbox_rows(db)}
    back = [rows[f"m{tg}"] for tg in (3, 4, 5)]
    assert {(r.status, r.attempts, r.claimed_by) for r in back} == {
        (OutboxStatus.PENDING, 0, None)
    }
    assert await d.drain() == 3  # the next start sends them, once each
    assert sender.chats() == [1, 2, 3, 4, 5]


async def test_stopping_the_bot_mid_broadcast_is_clean(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The dispatcher job ends with the bot: nothing logged as a crash, no row left claimed."""
    from bot.app import build_application
    from bot.clock import FixedClock
    from bot.config import Settings
    from bot.context import Runtime
    from bot.i18n import Translator
    from tests.recording import RecordingRequest

    await people(db, *range(1, 41))
    for tg in range(1, 41):
        await put(db, tg, f"m{tg}")
    settings = Settings(
        bot_token=f"{RecordingRequest.BOT_ID}:TEST-token-never-sent",  # type: ignore[arg-type]
        admin_ids=frozenset(),
        quiet_hours="off",
        send_rate=20.0,
    )
    runtime = Runtime(
        settings=settings,
        db=db,
        translator=Translator(settings.tz),
        clock=FixedClock(settings.tz, at=START),
    )
    request = RecordingRequest()
    app = build_application(
        runtime, request=request, updates_request=request, publish_commands=False
    )
    await app.initialize()
    await app.start()
    for _ in range(200):  # the first run starts a second after the start
        if len(request.of("sendMessage")) >= 5:
            break
        await asyncio.sleep(0.05)
    await app.stop()
    if app.post_stop is not None:
        await app.post_stop(app)
    await app.shutdown()
    sent = len(request.of("sendMessage"))
    assert 5 <= sent < 40
    rows = await outbox_rows(db)
    assert not [r for r in rows if r.status == OutboxStatus.SENDING]
    assert len([r for r in rows if r.status == OutboxStatus.SENT]) == sent
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reply_takes_the_next_slot_of_the_pace() -> None:
    time = FakeTime()
    pacer = Pacer(25, monotonic=time.monotonic, sleep=time.sleep)
    await pacer.wait(1)
    pacer.direct_send(7)  # someone asked for /dues meanwhile
    await pacer.wait(2)
    assert time.sleeps == [pytest.approx(0.08)]  # two slots of 40 ms: the reply's and ours
    await pacer.wait(7)  # a message to the person just answered waits a second
    assert time.now == pytest.approx(1001.0)


async def test_sends_that_left_late_do_not_make_31_in_a_second() -> None:
    """The loop stalls between the first send's slot and its real start: the second goes
    right after it, and the 31st must not land within a second of the first."""
    time = FakeTime()
    pacer = Pacer(CEILING, monotonic=time.monotonic, sleep=time.sleep)
    await pacer.wait(0)
    time.now += 0.3  # the loop was busy: the first send leaves 300 ms after its slot
    pacer.started()
    first = time.now
    for n in range(1, TELEGRAM_PER_SECOND):
        await pacer.wait(n)
        pacer.started()
    await pacer.wait(TELEGRAM_PER_SECOND)
    # Spacing alone would start it 29 slots (0.986 s) after the first real start.
    assert time.now - first >= 1.0 + WINDOW_MARGIN - 1e-9


async def test_a_reply_waits_for_room_instead_of_being_the_31st_in_a_second() -> None:
    time = FakeTime()
    pacer = Pacer(CEILING, monotonic=time.monotonic, sleep=time.sleep)
    for chat in range(TELEGRAM_PER_SECOND):  # a broadcast at full pace
        await pacer.wait(chat)
        pacer.started()
    first = 1000.0
    await pacer.reply_slot(7)  # someone asks for /dues right now
    assert time.now == pytest.approx(first + 1.0 + WINDOW_MARGIN)
    # ...and the broadcast's next send leaves room after it.
    await pacer.wait(TELEGRAM_PER_SECOND)
    assert time.now > first + 1.0 + WINDOW_MARGIN


async def test_a_reply_does_not_slip_in_before_a_granted_send() -> None:
    time = FakeTime()
    pacer = Pacer(CEILING, monotonic=time.monotonic, sleep=time.sleep)
    for chat in range(TELEGRAM_PER_SECOND - 1):
        await pacer.wait(chat)
        pacer.started()
    await pacer.wait(99)  # the 30th: granted, its task not started yet
    granted = time.now
    await pacer.reply_slot(7)
    assert time.now >= 1000.0 + 1.0 + WINDOW_MARGIN > granted


async def test_a_reply_never_waits_longer_than_reply_hold() -> None:
    time = FakeTime()
    pacer = Pacer(CEILING, monotonic=time.monotonic, sleep=time.sleep)
    for chat in range(TELEGRAM_PER_SECOND):  # thirty people answered in the same instant
        pacer.direct_send(chat)
    await pacer.reply_slot(99)  # the window opens a second later; the reply goes sooner
    assert time.now == pytest.approx(1000.0 + REPLY_HOLD)


async def test_a_granted_slot_that_never_started_stops_counting() -> None:
    time = FakeTime()
    pacer = Pacer(CEILING, monotonic=time.monotonic, sleep=time.sleep)
    for chat in range(TELEGRAM_PER_SECOND):
        await pacer.wait(chat)  # granted, but (a bug, a cancelled task) never started
    time.now += 5.0
    asked = time.now
    await pacer.reply_slot(7)
    assert time.now == asked


async def test_dispatchers_of_several_processes_share_the_pace(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves one process")
    clock = clock_at()
    second_db = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    try:
        a = dispatcher(db, FakeSender(), clock, rate=25)
        b = dispatcher(second_db, FakeSender(), clock, rate=25)
        await a.start()
        assert a.pacer.base_interval == pytest.approx(1 / 25)
        await b.start()
        await a.recover()  # every RECOVER_EVERY seconds in a running bot
        assert a.pacer.base_interval == pytest.approx(2 / 25)  # 12.5 a second each
        assert b.pacer.base_interval == pytest.approx(2 / 25)
        await b.stop()
        await a.recover()
        assert a.pacer.base_interval == pytest.approx(1 / 25)  # alone again: the whole pace
        await a.stop()
    finally:
        await second_db.dispose()
