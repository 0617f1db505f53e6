"""Payments received from member councils."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class Payment(SQLModel, table=True):
    """A bank payment; `year` and `kind` are set when the payer named the purpose."""

    __table_args__ = (Index("ix_payment_member_paid_on", "member_id", "paid_on"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    amount_kop: int = Field(sa_column=Column(BigInteger, nullable=False))
    paid_on: date
    reference: str = Field(max_length=100, unique=True)  # bank document number: re-import no-op
    year: int | None = None
    kind: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
