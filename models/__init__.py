"""SQLModel tables, one module per concept; importing this package registers them all."""

from sqlmodel import SQLModel

from models.access_request import AccessRequest, RequestStatus
from models.announcement import Announcement
from models.base import UTCDateTime, utc_now
from models.bot_state import BotState
from models.charge import KIND_ORDER, Charge, ChargeKind
from models.deadline import Deadline
from models.invite import Invite
from models.member import Member, MemberKind, search_key
from models.official import Official, Role
from models.outbox import Outbox, OutboxStatus, PlanMark
from models.payment import Payment
from models.user import TelegramUser

metadata = SQLModel.metadata

__all__ = [
    "KIND_ORDER",
    "AccessRequest",
    "Announcement",
    "BotState",
    "Charge",
    "ChargeKind",
    "Deadline",
    "Invite",
    "Member",
    "MemberKind",
    "Official",
    "Outbox",
    "OutboxStatus",
    "Payment",
    "PlanMark",
    "RequestStatus",
    "Role",
    "TelegramUser",
    "UTCDateTime",
    "metadata",
    "search_key",
    "utc_now",
]
