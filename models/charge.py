"""Dues charged to member councils."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class ChargeKind(StrEnum):
    """The three kinds of money a council owes the association."""

    MEMBERSHIP = "membership"  # annual membership dues
    FUND = "fund"  # target contribution to the Fund for assistance to communities
    ENTRANCE = "entrance"  # one-off entrance fee


# Within a year, a payment without a purpose settles these in this order.
KIND_ORDER = {ChargeKind.ENTRANCE: 0, ChargeKind.MEMBERSHIP: 1, ChargeKind.FUND: 2}


class Charge(SQLModel, table=True):
    """What one council owes for one kind in one year; formula_* explain a computed amount."""

    __table_args__ = (UniqueConstraint("member_id", "year", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    year: int
    kind: str = Field(max_length=20)
    amount_kop: int = Field(sa_column=Column(BigInteger, nullable=False))  # never float
    due_date: date
    formula_population: int | None = None
    formula_rate: str | None = Field(default=None, max_length=20)  # UAH per inhabitant, exact
    formula_min_kop: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
