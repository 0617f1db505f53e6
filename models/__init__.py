"""SQLModel tables, one module per concept; importing this package registers them all."""

from sqlmodel import SQLModel

from models.access_request import AccessRequest, RequestStatus
from models.base import UTCDateTime, utc_now
from models.bot_state import BotState
from models.charge import KIND_ORDER, Charge, ChargeKind
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
from models.payment import Payment
from models.user import TelegramUser

metadata = SQLModel.metadata

__all__ = [
    "KIND_ORDER",
    "SEATED",
    "AccessRequest",
    "BotState",
    "Category",
    "Certificate",
    "Charge",
    "ChargeKind",
    "Event",
    "EventKind",
    "EventStatus",
    "Invite",
    "Member",
    "MemberKind",
    "Official",
    "Payment",
    "Registration",
    "RegistrationStatus",
    "RequestStatus",
    "Role",
    "Section",
    "TelegramUser",
    "TrainingFormat",
    "UTCDateTime",
    "metadata",
    "search_key",
    "utc_now",
]
