"""The association's programme: thematic sections, events and trainings, registrations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class Section(SQLModel, table=True):
    """A thematic section of the association (education, finance, ...)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    name_uk: str = Field(max_length=200)
    name_en: str = Field(max_length=200)

    def name(self, lang: str) -> str:
        """The section's name in the reader's language."""
        return self.name_en if lang == "en" and self.name_en else self.name_uk


class Category(StrEnum):
    """Events (forums, meetings) and trainings (worth professional-development hours)."""

    EVENT = "event"
    TRAINING = "training"


class EventKind(StrEnum):
    """What kind of event."""

    FORUM = "forum"
    SECTION_MEETING = "section_meeting"
    ROUND_TABLE = "round_table"
    HEARING = "hearing"
    CONFERENCE = "conference"
    WEBINAR = "webinar"


class TrainingFormat(StrEnum):
    """How a training is held."""

    SEMINAR = "seminar"
    WEBINAR = "webinar"
    INTERNSHIP = "internship"
    DISTANCE_COURSE = "distance_course"


class EventStatus(StrEnum):
    """Whether the event takes place."""

    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Event(SQLModel, table=True):
    """An event or a training; `sequence` rises whenever what a calendar shows changes."""

    __table_args__ = (Index("ix_event_category_starts_at", "category", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=True)
    category: str = Field(max_length=20)
    kind: str = Field(max_length=30)  # an EventKind, or a TrainingFormat for trainings
    section_id: int | None = Field(default=None, foreign_key="section.id", index=True)
    title_uk: str = Field(max_length=300)
    title_en: str = Field(max_length=300)
    description_uk: str = Field(default="", max_length=2000)
    description_en: str = Field(default="", max_length=2000)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    location: str = Field(default="", max_length=300)
    capacity: int | None = None  # None: unlimited
    registration_deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    per_council_limit: int | None = None
    hours: int | None = None  # trainings: professional-development hours
    status: str = Field(default=EventStatus.PUBLISHED, max_length=20)
    sequence: int = 0
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # time or place
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)

    def title(self, lang: str) -> str:
        """The title in the reader's language."""
        return self.title_en if lang == "en" and self.title_en else self.title_uk

    def description(self, lang: str) -> str:
        """The description in the reader's language."""
        return self.description_en if lang == "en" and self.description_en else self.description_uk


class RegistrationStatus(StrEnum):
    """Where one person's registration stands."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    ABSENT = "absent"


# A registration that holds a seat (or will, when the event is over).
SEATED = (RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED, RegistrationStatus.ABSENT)


class Registration(SQLModel, table=True):
    """One official's registration for one event; one row per person and event."""

    __table_args__ = (
        UniqueConstraint("event_id", "official_id"),
        Index("ix_registration_event_status", "event_id", "status", "queued_at"),
        Index("ix_registration_official_status", "official_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id")
    official_id: int = Field(foreign_key="official.id")
    member_id: int = Field(foreign_key="member.id", index=True)  # the council they go for
    status: str = Field(max_length=20)
    queued_at: datetime = Field(sa_type=UTCDateTime)  # the waitlist is in this order
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    promoted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    marked_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Certificate(SQLModel, table=True):
    """A certificate of a completed training; the code lets anyone check it."""

    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", unique=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    official_id: int = Field(foreign_key="official.id", index=True)
    number: str = Field(max_length=40, unique=True)
    code: str = Field(max_length=20, unique=True, index=True)
    # What the certificate says, kept as issued even if the roster or programme change later.
    full_name: str = Field(max_length=300)
    member_name_uk: str = Field(max_length=300)
    member_name_en: str = Field(max_length=300)
    hours: int
    issued_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
