"""What the bot remembers about itself between runs, such as its own Telegram username."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class BotState(SQLModel, table=True):
    """One remembered value of the bot's own, by key (e.g. `username`)."""

    __tablename__ = "bot_state"

    key: str = Field(primary_key=True, max_length=50)
    value: str = Field(max_length=1000)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
