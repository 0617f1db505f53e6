"""Deadlines officials must meet (indicators to submit, proposals on a draft law)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class Deadline(SQLModel, table=True):
    """Something due by a moment, reminded 7 days and 1 day before to its audience."""

    id: int | None = Field(default=None, primary_key=True)
    # Staff's own key from `amu-bot import deadlines`: a re-import updates, never duplicates.
    # None for a deadline added with `amu-bot deadline add`.
    code: str | None = Field(default=None, max_length=40, unique=True)
    title_uk: str = Field(max_length=300)
    title_en: str = Field(max_length=300)
    description_uk: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    description_en: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    audience: str = Field(default="all", max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return self.title_en if lang == "en" and self.title_en else self.title_uk

    def description(self, lang: str) -> str:
        """The description in the reader's language."""
        return self.description_en if lang == "en" and self.description_en else self.description_uk
