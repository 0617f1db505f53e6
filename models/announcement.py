"""Announcements staff send to an audience, now or at a set time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class Announcement(SQLModel, table=True):
    """A message to an audience; the planner expands it into outbox rows at `send_at`."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))  # HTML, sent as written
    audience: str = Field(max_length=200)  # all | region:NAME | overdue (see services.audiences)
    send_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    urgent: bool = False
    expanded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recipients: int | None = None  # how many outbox rows the expansion wrote
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    link_url: str | None = Field(default=None, max_length=500)  # one link button under it
    # A document sent with it: Telegram's file_id of a file staff sent to the bot.
    document_file_id: str | None = Field(default=None, max_length=200)
    document_name: str | None = Field(default=None, max_length=200)


class AnnouncementDraft(SQLModel, table=True):
    """An announcement being composed in Telegram, one per author: any worker takes the next
    step from here, nothing of it lives in one process's memory."""

    __tablename__ = "announcement_draft"

    author: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    step: str = Field(max_length=20)  # text | link | audience | when | time | confirm
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    link_url: str | None = Field(default=None, max_length=500)
    document_file_id: str | None = Field(default=None, max_length=200)
    document_name: str | None = Field(default=None, max_length=200)
    audience: str | None = Field(default=None, max_length=200)
    send_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: at once
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
