"""What the bot remembers about itself between runs (its own username, so `invite` needs no
network)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import BotState

USERNAME = "username"


async def remember(*, session: AsyncSession, key: str, value: str, now: datetime) -> None:
    """Store `value` under `key`, replacing what was there; commits."""
    state = await session.get(BotState, key)
    if state is None:
        session.add(BotState(key=key, value=value, updated_at=now))
    elif state.value != value:
        state.value = value
        state.updated_at = now
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
