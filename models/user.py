"""Telegram users who have written to the bot, linked or not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, true
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now

# A flag that is on unless the person turned it off (existing rows too, after the migration).
ON = {"server_default": true()}


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
    # Event and training reminders a day and an hour before (read by the planner's rules).
    remind_day_before: bool = Field(default=True, sa_column_kwargs=ON)
    remind_hour_before: bool = Field(default=True, sa_column_kwargs=ON)
    # The kinds of news this person receives (/settings); all on for a newly linked official.
    news_events: bool = Field(default=True, sa_column_kwargs=ON)  # of the sections they follow
    news_trainings: bool = Field(default=True, sa_column_kwargs=ON)
    news_dues: bool = Field(default=True, sa_column_kwargs=ON)  # and announcements to debtors
    news_deadlines: bool = Field(default=True, sa_column_kwargs=ON)
    news_general: bool = Field(default=True, sa_column_kwargs=ON)  # to everyone, to a region

    @property
    def full_name(self) -> str:
        """First and last name as Telegram shows them."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class SectionSubscription(SQLModel, table=True):
    """A person follows a thematic section: its events and its announcements reach them."""

    __tablename__ = "section_subscription"

    telegram_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("tg_user.id"), primary_key=True)
    )
    section_id: int = Field(foreign_key="section.id", primary_key=True, index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
