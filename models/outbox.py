"""The outbox: every message the bot sends on its own initiative, and the planner's marks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class OutboxStatus(StrEnum):
    """Where a message stands; only `pending` and `deferred` rows are ever claimed."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher; after a crash, resent (at-least-once)
    SENT = "sent"
    FAILED = "failed"  # rejected, retries exhausted, or outcome unknown (read timeout)
    BLOCKED = "blocked"  # the person blocked the bot: never retried
    DEFERRED = "deferred"  # waiting for the end of the recipient's quiet hours
    DROPPED = "dropped"  # no longer makes sense to send


class Outbox(SQLModel, table=True):
    """One message to one chat, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_not_before", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    text: str = Field(sa_column=Column(Text, nullable=False))  # HTML, in the reader's language
    # Inline keyboard as Telegram's JSON: [[{"text": ..., "url"|"callback_data": ...}], ...]
    buttons: list[list[dict[str, Any]]] | None = Field(default=None, sa_column=Column(JSON))
    document: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    document_path: str | None = Field(default=None, max_length=500)
    document_name: str | None = Field(default=None, max_length=200)
    # A file Telegram already holds (one staff sent to the bot), sent again by its file_id.
    document_file_id: str | None = Field(default=None, max_length=200)
    kind: str = Field(max_length=30)
    dedupe_key: str = Field(max_length=200, unique=True)
    not_before: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # Past this moment the message no longer makes sense (a reminder of a passed deadline).
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    urgent: bool = False
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    announcement_id: int | None = Field(
        default=None,
        sa_column=Column(ForeignKey("announcement.id"), nullable=True, index=True),
    )
    claimed_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class PlanMark(SQLModel, table=True):
    """A reminder moment the planner has handled (e.g. `dues:42:7d`), so it never plans it twice.

    Written even when nobody was due a message (a paid charge), which keeps a pass with
    nothing new to do to one cheap query.
    """

    __tablename__ = "plan_mark"

    key: str = Field(primary_key=True, max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
