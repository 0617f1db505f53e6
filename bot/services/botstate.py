"""What the bot remembers about itself between runs (its own username, so `invite` needs no
network)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services.outbox import insert_for
from models import BotState

USERNAME = "username"


async def remember(*, session: AsyncSession, key: str, value: str, now: datetime) -> None:
    """Store `value` under `key`, replacing what was there; commits.

    One upsert: processes starting together on one database all write the same key, and a
    read-then-insert would fail in all of them but the first (unique key).
    """
    insert = insert_for(session, BotState).values(key=key, value=value, updated_at=now)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
            where=col(BotState.value) != insert.excluded.value,
        )
    )
    await session.commit()


async def recall(*, session: AsyncSession, key: str) -> str | None:
    """The value stored under `key`, or None."""
    state = await session.get(BotState, key)
    return state.value if state is not None else None


async def remember_username(*, session: AsyncSession, username: str, now: datetime) -> None:
    """The bot's own Telegram username, as getMe gave it when it started."""
    await remember(session=session, key=USERNAME, value=username, now=now)


async def bot_username(*, session: AsyncSession) -> str | None:
    """The username the bot had when it last started, or None if it never ran here."""
    return await recall(session=session, key=USERNAME)
