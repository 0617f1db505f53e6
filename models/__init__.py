"""SQLModel tables, one module per concept; importing this package registers them all."""

from sqlmodel import SQLModel

from models.access_request import AccessRequest, RequestStatus
from models.announcement import Announcement, AnnouncementDraft
from models.base import UTCDateTime, utc_now
from models.bot_state import BotState
from models.charge import KIND_ORDER, Charge, ChargeKind
from models.deadline import Deadline
from models.event import (
    SEATED,
    Category,
    Certificate,
    Event,
    EventKind,
    EventStatus,
    Registration,
    RegistrationStatus,
    Section,
    TrainingFormat,
)
from models.invite import Invite
from models.member import Member, MemberKind, search_key
from models.official import Official, Role
from models.outbox import Outbox, OutboxStatus, PlanMark
from models.payment import Payment
from models.user import SectionSubscription, TelegramUser

metadata = SQLModel.metadata

__all__ = [
    "KIND_ORDER",
    "SEATED",
    "AccessRequest",
    "Announcement",
    "AnnouncementDraft",
    "BotState",
    "Category",
    "Certificate",
    "Charge",
    "ChargeKind",
    "Deadline",
    "Event",
    "EventKind",
    "EventStatus",
    "Invite",
    "Member",
    "MemberKind",
    "Official",
    "Outbox",
    "OutboxStatus",
    "Payment",
    "PlanMark",
    "Registration",
    "RegistrationStatus",
    "RequestStatus",
    "Role",
    "Section",
    "SectionSubscription",
    "TelegramUser",
    "TrainingFormat",
    "UTCDateTime",
    "metadata",
    "search_key",
    "utc_now",
]
