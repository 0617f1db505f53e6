"""Telegram users who have written to the bot, linked or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class TelegramUser(SQLModel, table=True):
    """A person as Telegram knows them, with the language they chose."""

    __tablename__ = "tg_user"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    first_name: str = Field(default="", max_length=300)
    last_name: str | None = Field(default=None, max_length=300)
    username: str | None = Field(default=None, max_length=100)
    language_code: str | None = Field(default=None, max_length=20)  # as Telegram reports it
    language: str | None = Field(default=None, max_length=5)  # chosen in /settings
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    blocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "HH:MM-HH:MM" in Kyiv time, "off" for none; None follows QUIET_HOURS.
    quiet_hours: str | None = Field(default=None, max_length=20)

    @property
    def full_name(self) -> str:
        """First and last name as Telegram shows them."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)
