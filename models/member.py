"""Member councils of the association."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class MemberKind(StrEnum):
    """What kind of settlement is the centre of the hromada."""

    CITY = "city"
    SETTLEMENT = "settlement"
    VILLAGE = "village"


def search_key(text: str) -> str:
    """Fold a name for case-insensitive substring search on any database."""
    folded = text.casefold()
    for apostrophe in ("\u2019", "\u02bc", "`", "\u2018"):
        folded = folded.replace(apostrophe, "'")
    return " ".join(folded.split())


class Member(SQLModel, table=True):
    """A member council, identified by its EDRPOU code."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=10, unique=True, index=True)
    name_uk: str = Field(max_length=300)
    name_en: str = Field(max_length=300)
    # Both names folded; SQLite's lower() knows only ASCII, so search uses this column.
    search_name: str = Field(max_length=610, default="")
    region: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=20)
    population: int | None = None
    joined_on: date | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
