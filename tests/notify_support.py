"""Shared pieces of the notification tests: people, councils, a fake Sender, a manual pacer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.clock import ManualClock
from bot.db import Database
from bot.notifications.dispatcher import Dispatcher, Pacer
from bot.notifications.sender import OutgoingMessage, SendError
from bot.quiet_hours import QuietHours
from models import Charge, Member, Official, Outbox, TelegramUser

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # 12:00 in Kyiv


async def add_member(
    session: AsyncSession, code: str, *, region: str = "Полтавська", name: str = "Громада"
) -> int:
    """A council; returns its id."""
    m = Member(
        code=code, name_uk=f"{name} {code}", name_en=f"Council {code}", region=region, kind="city"
    )
    session.add(m)
    await session.flush()
    assert m.id is not None
    return m.id


async def add_person(
    session: AsyncSession,
    telegram_id: int | None,
    member_id: int,
    *,
    lang: str | None = "uk",
    blocked: bool = False,
    active: bool = True,
    quiet_hours: str | None = None,
) -> None:
    """An official of `member_id`, linked to Telegram unless `telegram_id` is None."""
    if telegram_id is not None:
        session.add(
            TelegramUser(
                id=telegram_id,
                first_name=f"P{telegram_id}",
                language=lang,
                blocked_at=START if blocked else None,
                quiet_hours=quiet_hours,
            )
        )
        await session.flush()
    session.add(
        Official(
            member_id=member_id,
            full_name=f"Official {telegram_id}",
            telegram_id=telegram_id,
            active=active,
        )
    )
    await session.flush()


async def add_charge(
    session: AsyncSession,
    member_id: int,
    due: date,
    amount_kop: int = 100_000,
    kind: str = "membership",
) -> int:
    """A charge; returns its id."""
    c = Charge(member_id=member_id, year=due.year, kind=kind, amount_kop=amount_kop, due_date=due)
    session.add(c)
    await session.flush()
    assert c.id is not None
    return c.id


async def outbox_rows(db: Database) -> list[Outbox]:
    """Every outbox row, oldest first."""
    async with db.session() as session:
        return list((await session.execute(select(Outbox).order_by(col(Outbox.id)))).scalars())


@dataclass
class FakeSender:
    """Records what was sent; `failures[chat]` lists errors to raise on the next sends there."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    failures: dict[int, list[SendError]] = field(default_factory=dict)
    attempts: int = 0

    async def send(self, message: OutgoingMessage) -> None:
        self.attempts += 1
        queue = self.failures.get(message.chat_id)
        if queue:
            raise queue.pop(0)
        self.sent.append(message)

    def chats(self) -> list[int]:
        """The chats messages went to, in order."""
        return [m.chat_id for m in self.sent]


@dataclass
class FakeTime:
    """A monotonic clock that sleeping advances, so pacing costs no real time."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def dispatcher(
    db: Database,
    sender: FakeSender,
    clock: ManualClock,
    *,
    rate: float = 25.0,
    quiet: str = "21:00-08:00",
    batch: int | None = None,
    time: FakeTime | None = None,
) -> Dispatcher:
    """A dispatcher on the fake sender; pacing runs on fake time."""
    fake_time = time or FakeTime()
    return Dispatcher(
        db=db,
        sender=sender,
        clock=clock,
        rate=rate,
        quiet=QuietHours.parse(quiet),
        tz=clock.tz,
        batch=batch,
        pacer=Pacer(rate, monotonic=fake_time.monotonic, sleep=fake_time.sleep),
    )
