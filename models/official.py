"""Officials of member councils: the roster, and the Telegram link that gives access."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class Role(StrEnum):
    """What an official may see: their council, their region's councils, or everything."""

    OFFICIAL = "official"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Official(SQLModel, table=True):
    """A person at a member council; `telegram_id` is set once they link their account."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    full_name: str = Field(max_length=300)
    position: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=200)
    role: str = Field(default=Role.OFFICIAL, max_length=20)
    telegram_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("tg_user.id"), unique=True, nullable=True),
    )
    linked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    active: bool = True
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
