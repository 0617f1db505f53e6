"""Requests from strangers to be linked to a council, decided by staff."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class RequestStatus(StrEnum):
    """Where an access request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class AccessRequest(SQLModel, table=True):
    """Someone asks to see a council's data; staff approve or deny it with one tap."""

    __tablename__ = "access_request"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    member_id: int = Field(foreign_key="member.id", index=True)
    full_name: str = Field(max_length=300)
    position: str = Field(max_length=300)
    status: str = Field(default=RequestStatus.PENDING, max_length=20)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
