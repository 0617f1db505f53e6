"""The dispatcher: claims due outbox rows, sends them paced under Telegram's limits, records.

Only proactive messages pass through here, so only they are paced: replies to the person
talking to the bot go straight out (an AIORateLimiter on every call would cap those at the
same ~30/s, see DESIGN.md).

Outcomes: 429 → wait `retry_after` (every send pauses, Telegram's flood control is per bot)
and retry; 403 → `blocked`, the person is marked (`blocked_at`), never retried; nothing sent
(connection refused) → back to `pending` with exponential backoff; read timeout (Telegram may
have it) → `failed`, never resent. Non-urgent rows that fall in the recipient's quiet hours
become `deferred` until the quiet hours end; urgent ones go at once. A row whose text is too
long for its document's caption goes as two messages, text then document; once the text has
gone the row is never put back, so a failed document settles it as failed (`_send_one`).

Crash safety: a claimed row is `sending` with its dispatcher's id. A dispatcher that dies
leaves such rows; another (or the restarted one) puts them back to `pending` and they are
sent again: at most those in-flight messages can repeat, none is lost. SQLite serves one
process, so every foreign `sending` row there is an orphan; on PostgreSQL a dispatcher holds
an advisory lock on its own id for its whole life, and rows whose owner's lock is free are
orphans.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.db import Database
from bot.notifications.sender import (
    PROACTIVE,
    Blocked,
    OutcomeUnknown,
    OutgoingMessage,
    Rejected,
    RetryLater,
    Sender,
    Transient,
)
from bot.quiet_hours import QuietHours
from bot.services import outbox
from bot.services.outbox import Claimed, Settlement
from models import OutboxStatus

log = logging.getLogger(__name__)

PER_CHAT_INTERVAL = 1.0  # Telegram: no more than one message a second to one chat
MAX_ATTEMPTS = 8  # connection failures before a message is given up as failed
MAX_BACKOFF = timedelta(minutes=10)
# A 429 longer than this releases the row (and the batch) instead of holding it.
MAX_INLINE_WAIT = 30.0
RECOVER_EVERY = 30.0  # seconds between looks for a dead dispatcher's rows
DISPATCHER_NAMESPACE = outbox.LOCK_NAMESPACE + 1
SLOW_DOWN = 1.01  # pace factor after each 429
LATE_TOLERANCE = 0.004  # a wake-up later than this re-spaces the following sends
# Telegram's ~30/s is a ceiling measured at its end; our starts reach it with some jitter, so
# the pace never plans more than this many a second even when SEND_RATE says 30.
CEILING = 29.4
MAX_SLOW_DOWN = 1.25  # never slower than 80 % of the configured rate
# Telegram's count: at most this many messages in any second. The pacer also keeps the
# real starts of the last ones (its own and the replies') this far apart, plus a margin
# for the jitter between a start and its arrival: a send that left late must not bunch
# with the one a second after it.
TELEGRAM_PER_SECOND = 30
WINDOW_MARGIN = 0.02
# A reply waits at most this long for the 30-in-a-second window (~34 ms at full pace).
REPLY_HOLD = 0.25
GRANT_EXPIRES = 2.0  # a granted slot whose send never started stops counting
RECOVER_AFTER = 300  # sends without a 429 (~10 s) before the pace creeps back up a step


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds after each failed attempt, at most MAX_BACKOFF."""
    return min(timedelta(seconds=2 ** max(1, attempts)), MAX_BACKOFF)


class Pacer:
    """Spaces send starts: `rate` a second overall, one a second per chat; pauses on a 429."""

    def __init__(
        self,
        rate: float,
        *,
        per_chat: float = PER_CHAT_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = min(rate, CEILING)
        self.base_interval = self.interval = 1.0 / self.rate
        self.dispatchers = 1
        self._clean = 0
        self.per_chat = per_chat
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._starts: deque[float] = deque(maxlen=TELEGRAM_PER_SECOND)
        # When `wait` granted the slots whose send has not started yet (`started` takes one).
        self._granted: deque[float] = deque()

    def started(self) -> None:
        """A send is leaving now (its real start, which may be later than planned)."""
        if self._granted:
            self._granted.popleft()
        self._starts.append(self._monotonic())

    def _window_opens(self) -> float:
        """When a send may start without making 31 in a second of real starts.

        Slots granted but not started yet count from the moment they were granted (a reply
        must not slip in before them); one not started within GRANT_EXPIRES (its send never
        came) is forgotten.
        """
        now = self._monotonic()
        while self._granted and self._granted[0] < now - GRANT_EXPIRES:
            self._granted.popleft()
        if len(self._starts) + len(self._granted) < TELEGRAM_PER_SECOND:
            return 0.0
        ahead = sorted([*self._starts, *self._granted])
        return ahead[-TELEGRAM_PER_SECOND] + 1.0 + WINDOW_MARGIN

    def share(self, dispatchers: int) -> None:
        """`dispatchers` processes send for this bot: each keeps to its share of the pace, so
        together they stay at SEND_RATE (Telegram's limit is the bot's, not a process's)."""
        dispatchers = max(1, dispatchers)
        if dispatchers == self.dispatchers:
            return
        slowed = self.interval / self.base_interval
        self.dispatchers = dispatchers
        self.base_interval = dispatchers / self.rate
        self.interval = self.base_interval * slowed
        log.info(
            "%d dispatchers share the pace: %.1f messages a second each",
            dispatchers,
            self.rate / dispatchers,
        )

    def pause(self, seconds: float) -> None:
        """Start nothing for `seconds` (Telegram said so with a 429), then go a little slower.

        Telegram's limit is not published exactly and requests do not arrive as evenly as
        they leave; each 429 costs a whole pause, so easing off by a few per cent is cheaper
        than hitting it again. The pace creeps back after RECOVER_AFTER sends without one.
        """
        now = self._monotonic()
        if now >= self._paused_until:  # sends already on their way may 429 too: count once
            self.interval = min(self.interval * SLOW_DOWN, self.base_interval * MAX_SLOW_DOWN)
        self._paused_until = max(self._paused_until, now + seconds)
        self._next = max(self._next, now + seconds)
        self._clean = 0

    async def reply_slot(self, chat_id: int | None) -> None:
        """A reply is about to go: it waits (at most REPLY_HOLD) until it would not be the
        31st send within a second, then takes the next slot of the pace."""
        deadline = self._monotonic() + REPLY_HOLD
        while (opens := min(self._window_opens(), deadline)) > (now := self._monotonic()):
            await self._sleep(opens - now)
        self.direct_send(chat_id)

    def direct_send(self, chat_id: int | None) -> None:
        """A reply goes out now: it takes the next slot, so the total stays at the pace."""
        now = self._monotonic()
        self._starts.append(now)
        self._next = max(self._next, now) + self.interval
        if chat_id is not None:
            self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), now + self.per_chat)

    def flood_wait(self, seconds: float) -> None:
        """A reply met a 429: flood control is the whole bot's, so every send waits."""
        self.pause(seconds)

    async def wait(self, chat_id: int) -> None:
        """Reserve the next slot for `chat_id` and sleep until it comes."""
        now = self._monotonic()
        start = max(now, self._next, self._chat_next.get(chat_id, 0.0), self._window_opens())
        self._next = start + self.interval
        self._chat_next[chat_id] = start + self.per_chat
        self._clean += 1
        if self._clean >= RECOVER_AFTER and self.interval > self.base_interval:
            self.interval = max(self.base_interval, self.interval / SLOW_DOWN)
            self._clean = 0
        if len(self._chat_next) > 10_000:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        if start > now:
            await self._sleep(start - now)
            # A busy event loop wakes late; spacing from the real start keeps a late send
            # from bunching with the next one (Telegram counts arrivals, not our plans).
            late = self._monotonic() - start
            if late > LATE_TOLERANCE:
                self._next = max(self._next, start + late + self.interval)
        # A reply may have gone while we slept: look at the window again.
        while (opens := self._window_opens()) > (now := self._monotonic()):
            await self._sleep(opens - now)
        self._granted.append(now)  # until the send's `started()`


class Dispatcher:
    """Empties the outbox; many may run against one PostgreSQL database."""

    def __init__(
        self,
        *,
        db: Database,
        sender: Sender,
        clock: Clock,
        rate: float,
        quiet: QuietHours,
        tz: ZoneInfo,
        batch: int | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.db = db
        self.sender = sender
        self.clock = clock
        self.quiet = quiet
        self.tz = tz
        self.pacer = pacer or Pacer(rate)
        # About two seconds of sending per claim: few round trips, few rows in flight.
        self.batch = batch or max(1, int(rate * 2))
        self.owner = secrets.randbelow(2**31 - 2) + 1
        self._lock_conn: AsyncConnection | None = None
        self._last_recover = float("-inf")

    async def start(self) -> None:
        """Hold this dispatcher's liveness lock (PostgreSQL) and take over orphaned rows."""
        if self.db.engine.dialect.name == "postgresql" and self._lock_conn is None:
            self._lock_conn = await self.db.engine.connect()
            if not await outbox.try_lock(self._lock_conn, self.owner, DISPATCHER_NAMESPACE):
                raise RuntimeError("dispatcher id already in use")
            await self._lock_conn.commit()  # the lock is the session's; no open transaction
        await self.recover()

    async def stop(self) -> None:
        """Release the liveness lock; rows still `sending` would be taken over by others."""
        if self._lock_conn is not None:
            # Not back to the pool: a pooled connection would keep holding the lock.
            await self._lock_conn.invalidate()
            await self._lock_conn.close()
            self._lock_conn = None

    async def recover(self) -> int:
        """Put rows a dead dispatcher left in `sending` back to `pending`; take this
        process's share of the pace among the live dispatchers (PostgreSQL)."""
        self._last_recover = time.monotonic()
        released = 0
        if self._lock_conn is not None:
            self.pacer.share(await outbox.holders(self._lock_conn, DISPATCHER_NAMESPACE))
            await self._lock_conn.commit()
        async with self.db.session() as session:
            owners = await outbox.orphan_owners(session=session, me=self.owner)
            await session.commit()
            for owner in owners:
                if self._lock_conn is None:  # SQLite: one process, so the owner is gone
                    released += await outbox.release(session=session, owner=owner)
                    continue
                if await outbox.try_lock(self._lock_conn, owner, DISPATCHER_NAMESPACE):
                    try:
                        released += await outbox.release(session=session, owner=owner)
                    finally:
                        await outbox.unlock(self._lock_conn, owner, DISPATCHER_NAMESPACE)
                        await self._lock_conn.commit()
        if released:
            log.warning("resending %d messages left in flight by a stopped dispatcher", released)
        return released

    async def _claim(self) -> list[Claimed]:
        if time.monotonic() - self._last_recover > RECOVER_EVERY:
            await self.recover()
        async with self.db.session() as session:
            return await outbox.claim(
                session=session, owner=self.owner, now=self.clock.now(), limit=self.batch
            )

    async def _finish(self, started: list[Settlement | asyncio.Task[Settlement]]) -> None:
        results = [r if isinstance(r, Settlement) else await r for r in started]
        async with self.db.session() as session:
            await outbox.settle(session=session, results=results, now=self.clock.now())

    async def run_once(self) -> int:
        """Claim one batch of due rows, send them, record the outcomes; returns rows handled."""
        rows = await self._claim()
        if rows:
            await self._finish(await self._start(rows))
        return len(rows)

    async def drain(
        self, budget: float = 10.0, *, keep_going: Callable[[], bool] = lambda: True
    ) -> int:
        """Send batches until nothing is due, `budget` seconds have passed or `keep_going()`
        turns false (the bot is stopping; claimed rows are still sent and recorded).

        Pipelined: the next batch is claimed and paced while the last one's answers come in
        and are recorded, so the pacing never stalls on the database.
        """
        handled = 0
        deadline = time.monotonic() + budget
        finishing: asyncio.Task[None] | None = None
        try:
            while time.monotonic() < deadline and keep_going():
                rows = await self._claim()
                if not rows:
                    break
                started = await self._start(rows, keep_going)
                if finishing is not None:
                    await finishing
                finishing = asyncio.create_task(self._finish(started))
                handled += len(rows)
        finally:
            if finishing is not None:
                await finishing
        return handled

    def _quiet_for(self, row: Claimed) -> QuietHours:
        if row.quiet_hours:
            try:
                return QuietHours.parse(row.quiet_hours)
            except ValueError:
                log.warning("malformed quiet hours %r of %s", row.quiet_hours, row.recipient)
        return self.quiet

    async def _start(
        self, rows: list[Claimed], keep_going: Callable[[], bool] = lambda: True
    ) -> list[Settlement | asyncio.Task[Settlement]]:
        """Pace and start the sends; outcomes known without sending are settled at once.

        Once `keep_going()` turns false, the rows not yet started go back unsent.
        """
        now = self.clock.now()
        results: list[Settlement | asyncio.Task[Settlement]] = []
        for row in rows:
            if not keep_going():
                results.append(Settlement(row.id, OutboxStatus.PENDING, attempted=False))
                continue
            if row.blocked:
                results.append(Settlement(row.id, OutboxStatus.BLOCKED, "blocked the bot"))
                continue
            quiet = self._quiet_for(row)
            if not row.urgent and quiet.contains(now, self.tz):
                results.append(
                    Settlement(
                        row.id, OutboxStatus.DEFERRED, not_before=quiet.ends_after(now, self.tz)
                    )
                )
                continue
            await self.pacer.wait(row.recipient)
            results.append(asyncio.create_task(self._send_one(row)))
        return results

    async def _send_one(self, row: Claimed) -> Settlement:
        PROACTIVE.set(True)  # this task's own context: paced here, its 429s handled here
        message = OutgoingMessage(
            chat_id=row.recipient,
            text=row.text,
            buttons=row.buttons,
            document=row.document,
            document_path=row.document_path,
            document_name=row.document_name,
            document_file_id=row.document_file_id,
        )
        # One row may take two Telegram messages: a text too long for a caption, then the
        # document. The second part is sent at most once: once the text has gone, any
        # failure of the document (except a 429 waited out here, which sent nothing)
        # settles the row as failed instead of putting it back, which would repeat the text.
        for n, part in enumerate(message.parts()):
            if n:
                await self.pacer.wait(row.recipient)  # its own slot, a second after the text
            failed = await self._send_part(row, part, first=n == 0)
            if failed is not None:
                return failed
        return Settlement(row.id, OutboxStatus.SENT, sent_at=self.clock.now())

    async def _send_part(
        self, row: Claimed, message: OutgoingMessage, *, first: bool
    ) -> Settlement | None:
        """Send one Telegram message of a row; None when it went, else how the row ends."""
        while True:
            try:
                self.pacer.started()
                await self.sender.send(message)
            except RetryLater as exc:
                self.pacer.pause(exc.seconds)
                if exc.seconds > MAX_INLINE_WAIT:
                    if not first:
                        return self._partly_sent(row, exc)
                    return self._later(row, str(exc), timedelta(seconds=exc.seconds))
                log.warning("Telegram asked to wait %g s (flood control)", exc.seconds)
                await self.pacer.wait(row.recipient)
                continue
            except Blocked as exc:
                return Settlement(
                    row.id, OutboxStatus.BLOCKED, str(exc), blocked_recipient=row.recipient
                )
            except Transient as exc:
                if not first:
                    return self._partly_sent(row, exc)
                if row.attempts >= MAX_ATTEMPTS:
                    return Settlement(row.id, OutboxStatus.FAILED, f"gave up: {exc}")
                return self._later(row, str(exc), backoff(row.attempts))
            except OutcomeUnknown as exc:
                return Settlement(row.id, OutboxStatus.FAILED, f"outcome unknown: {exc}")
            except Rejected as exc:
                if not first:
                    return self._partly_sent(row, exc)
                return Settlement(row.id, OutboxStatus.FAILED, str(exc))
            except Exception as exc:  # a bug must not stop the other messages
                log.exception("sending outbox row %s failed unexpectedly", row.id)
                return Settlement(row.id, OutboxStatus.FAILED, f"unexpected: {exc!r}")
            return None

    @staticmethod
    def _partly_sent(row: Claimed, exc: Exception) -> Settlement:
        return Settlement(row.id, OutboxStatus.FAILED, f"text delivered, document not sent: {exc}")

    def _later(self, row: Claimed, error: str, wait: timedelta) -> Settlement:
        return Settlement(row.id, OutboxStatus.PENDING, error, not_before=self.clock.now() + wait)
