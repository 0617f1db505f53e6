"""Who is calling: Telegram users, their link to a council, invites, access requests, rights."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.text import clean_line
from models import (
    AccessRequest,
    Invite,
    Member,
    Official,
    RequestStatus,
    Role,
    TelegramUser,
    search_key,
)

LANGUAGES = ("uk", "en")
DEFAULT_LANGUAGE = "uk"
# Writing last_seen on every update would turn every read into a write.
SEEN_RESOLUTION = timedelta(hours=1)
INVITE_TTL = timedelta(days=14)
MAX_NAME = 200


def _untyped(row: Any) -> Any:
    """A result row for a dataclass; SQLModel types primary keys `int | None` even when read."""
    return row


def pick_language(chosen: str | None, telegram_code: str | None) -> str:
    """The chosen language, else English for English Telegram clients, else Ukrainian."""
    if chosen in LANGUAGES:
        return chosen
    if telegram_code and telegram_code.lower().split("-")[0] == "en":
        return "en"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Profile:
    """What Telegram tells about the person behind an update."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        """First and last name as Telegram shows them."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Link:
    """A caller's link to a council and the role it gives."""

    official_id: int
    member_id: int
    member_code: str
    member_name_uk: str
    member_name_en: str
    region: str
    role: str
    full_name: str


@dataclass(frozen=True)
class Caller:
    """The person behind an update, as far as access is concerned."""

    telegram_id: int
    language: str
    link: Link | None
    is_staff: bool

    @property
    def member_id(self) -> int | None:
        """The council the caller is linked to, if any."""
        return self.link.member_id if self.link else None


def may_view_member(caller: Caller, *, member_id: int, region: str) -> bool:
    """Staff see every council, coordinators their region's, officials their own."""
    if caller.is_staff:
        return True
    link = caller.link
    if link is None:
        return False
    if link.role == Role.COORDINATOR:
        return region == link.region
    return member_id == link.member_id


# The columns behind Link, in its field order.
LINK_COLUMNS = (
    col(Official.id),
    col(Official.member_id),
    col(Member.code),
    col(Member.name_uk),
    col(Member.name_en),
    col(Member.region),
    col(Official.role),
    col(Official.full_name),
)


async def _link(session: AsyncSession, telegram_id: int) -> Link | None:
    row = (
        await session.execute(
            select(*LINK_COLUMNS)
            .join(Member, col(Member.id) == col(Official.member_id))
            .where(col(Official.telegram_id) == telegram_id, col(Official.active))
        )
    ).one_or_none()
    return Link(*_untyped(row)) if row else None


async def identify(
    *, session: AsyncSession, profile: Profile, now: datetime, admin_ids: frozenset[int]
) -> Caller:
    """Find the caller and their link in one query; write only what changed, at most hourly."""
    first_name = clean_line(profile.first_name, 300)
    last_name = clean_line(profile.last_name or "", 300) or None
    username = clean_line(profile.username or "", 100) or None
    language_code = clean_line(profile.language_code or "", 20) or None
    # Every update passes here, so this is one round trip: the user, their link, the council.
    row = (
        await session.execute(
            select(
                col(TelegramUser.first_name),
                col(TelegramUser.last_name),
                col(TelegramUser.username),
                col(TelegramUser.language_code),
                col(TelegramUser.language),
                col(TelegramUser.last_seen_at),
                col(TelegramUser.blocked_at),
                *LINK_COLUMNS,
            )
            .select_from(TelegramUser)
            .outerjoin(
                Official,
                and_(col(Official.telegram_id) == col(TelegramUser.id), col(Official.active)),
            )
            .outerjoin(Member, col(Member.id) == col(Official.member_id))
            .where(col(TelegramUser.id) == profile.telegram_id)
        )
    ).one_or_none()
    seen = (first_name, last_name, username, language_code)
    link: Link | None = None
    chosen: str | None = None
    if row is None:
        session.add(
            TelegramUser(
                id=profile.telegram_id,
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
                created_at=now,
                last_seen_at=now,
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # another worker inserted the same user first
            await session.rollback()
            return await identify(session=session, profile=profile, now=now, admin_ids=admin_ids)
    else:
        values = _untyped(row)
        stored, chosen, last_seen, blocked = tuple(values[:4]), values[4], values[5], values[6]
        if values[7] is not None:
            link = Link(*values[7:])
        if stored != seen or blocked is not None or now - last_seen > SEEN_RESOLUTION:
            await session.execute(
                update(TelegramUser)
                .where(col(TelegramUser.id) == profile.telegram_id)
                .values(
                    first_name=first_name,
                    last_name=last_name,
                    username=username,
                    language_code=language_code,
                    last_seen_at=now,
                    blocked_at=None,  # they wrote to us, so they have unblocked the bot
                )
            )
            await session.commit()
    is_staff = profile.telegram_id in admin_ids or (link is not None and link.role == Role.ADMIN)
    return Caller(
        telegram_id=profile.telegram_id,
        language=pick_language(chosen, language_code),
        link=link,
        is_staff=is_staff,
    )


async def set_language(*, session: AsyncSession, telegram_id: int, language: str) -> None:
    """Remember the language a person chose."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    await session.execute(
        update(TelegramUser).where(col(TelegramUser.id) == telegram_id).values(language=language)
    )
    await session.commit()


async def member_by_code(*, session: AsyncSession, code: str) -> Member | None:
    """The council with this EDRPOU code."""
    return (
        await session.execute(select(Member).where(col(Member.code) == code.strip()))
    ).scalar_one_or_none()


async def member_region(*, session: AsyncSession, member_id: int) -> str | None:
    """The region of a council, for access checks; None if there is no such council."""
    return (
        await session.execute(select(col(Member.region)).where(col(Member.id) == member_id))
    ).scalar_one_or_none()


async def create_invites(
    *,
    session: AsyncSession,
    member_code: str,
    role: Role,
    count: int,
    now: datetime,
    ttl: timedelta = INVITE_TTL,
) -> list[Invite]:
    """Issue `count` single-use invite codes for a council."""
    member = await member_by_code(session=session, code=member_code)
    if member is None:
        raise LookupError(member_code)
    invites = [
        Invite(
            code=secrets.token_urlsafe(12),  # 16 characters, all allowed in a deep link
            member_id=member.id,  # type: ignore[arg-type]
            role=role,
            created_at=now,
            expires_at=now + ttl,
        )
        for _ in range(count)
    ]
    session.add_all(invites)
    await session.commit()
    return invites


class InviteOutcome(StrEnum):
    """What happened to an invite code sent with /start."""

    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Redeemed:
    """The outcome of /start <code>, with the council's names when there is one."""

    outcome: InviteOutcome
    member_name_uk: str = ""
    member_name_en: str = ""
    role: str = ""


async def _attach(
    session: AsyncSession,
    *,
    telegram_id: int,
    member_id: int,
    role: str,
    full_name: str,
    position: str,
    now: datetime,
) -> None:
    """Link a Telegram account to a council, reusing the roster entry with the same name."""
    current = (
        await session.execute(select(Official).where(col(Official.telegram_id) == telegram_id))
    ).scalar_one_or_none()
    if current is not None:
        current.member_id = member_id
        current.role = role
        current.active = True
        current.linked_at = now
        if position:
            current.position = position
        return
    key = search_key(full_name)
    roster = (
        await session.execute(
            select(Official).where(
                col(Official.member_id) == member_id,
                col(Official.telegram_id).is_(None),
            )
        )
    ).scalars()
    match = next((o for o in roster if search_key(o.full_name) == key), None)
    if match is not None:
        match.telegram_id = telegram_id
        match.role = role
        match.active = True
        match.linked_at = now
        return
    session.add(
        Official(
            member_id=member_id,
            full_name=clean_line(full_name, 300) or str(telegram_id),
            position=clean_line(position, 300),
            role=role,
            telegram_id=telegram_id,
            linked_at=now,
        )
    )


async def redeem_invite(
    *, session: AsyncSession, code: str, profile: Profile, now: datetime
) -> Redeemed:
    """Use an invite code: link the account, or say why not (unknown, used, expired)."""
    invite = (
        await session.execute(select(Invite).where(col(Invite.code) == code))
    ).scalar_one_or_none()
    if invite is None:
        return Redeemed(InviteOutcome.UNKNOWN)
    member = await session.get(Member, invite.member_id)
    assert member is not None  # noqa: S101 - foreign key
    names: dict[str, Any] = {"member_name_uk": member.name_uk, "member_name_en": member.name_en}
    if invite.used_at is not None:
        link = await _link(session, profile.telegram_id)
        if invite.used_by == profile.telegram_id and link and link.member_id == member.id:
            return Redeemed(InviteOutcome.ALREADY_LINKED, role=link.role, **names)
        return Redeemed(InviteOutcome.USED)
    if invite.expires_at <= now:
        return Redeemed(InviteOutcome.EXPIRED)
    # One statement claims the code, so two people racing for it cannot both win.
    claimed = await session.execute(
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
        .values(used_at=now, used_by=profile.telegram_id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return Redeemed(InviteOutcome.USED)
    if await session.get(TelegramUser, profile.telegram_id) is None:
        session.add(
            TelegramUser(
                id=profile.telegram_id,
                first_name=clean_line(profile.first_name, 300),
                created_at=now,
                last_seen_at=now,
            )
        )
        await session.flush()
    await _attach(
        session,
        telegram_id=profile.telegram_id,
        member_id=member.id,  # type: ignore[arg-type]
        role=invite.role,
        full_name=profile.full_name,
        position="",
        now=now,
    )
    await session.commit()
    return Redeemed(InviteOutcome.LINKED, role=invite.role, **names)


@dataclass(frozen=True)
class MemberMatch:
    """A council offered to someone looking for theirs."""

    id: int
    name_uk: str
    name_en: str
    region: str

    def name(self, lang: str) -> str:
        """The council's name in the reader's language."""
        return self.name_en if lang == "en" and self.name_en else self.name_uk


# Each request notifies every staff member: one person cannot keep more than this open.
MAX_PENDING_REQUESTS = 3
MIN_QUERY = 3
MAX_QUERY = 100


async def find_members(*, session: AsyncSession, query: str, limit: int = 8) -> list[MemberMatch]:
    """Councils whose Ukrainian or English name contains `query`, case-insensitively."""
    key = search_key(clean_line(query))
    if not (MIN_QUERY <= len(key) <= MAX_QUERY):
        return []
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.execute(
        select(col(Member.id), col(Member.name_uk), col(Member.name_en), col(Member.region))
        .where(col(Member.search_name).like(f"%{escaped}%", escape="\\"))
        .order_by(col(Member.name_uk))
        .limit(limit)
    )
    return [MemberMatch(*_untyped(row)) for row in rows]


class RequestOutcome(StrEnum):
    """What became of an access request."""

    CREATED = "created"
    ALREADY_PENDING = "already_pending"
    ALREADY_LINKED = "already_linked"
    NO_MEMBER = "no_member"
    TOO_MANY = "too_many"


@dataclass(frozen=True)
class RequestResult:
    """An access request as the requester and staff see it."""

    outcome: RequestOutcome
    request_id: int = 0
    member_name_uk: str = ""
    member_name_en: str = ""
    region: str = ""


async def request_access(
    *,
    session: AsyncSession,
    telegram_id: int,
    member_id: int,
    full_name: str,
    position: str,
    now: datetime,
) -> RequestResult:
    """File a request to be linked to a council; one pending request per person and council."""
    member = await session.get(Member, member_id)
    if member is None:
        return RequestResult(RequestOutcome.NO_MEMBER)
    names: dict[str, Any] = {"member_name_uk": member.name_uk, "member_name_en": member.name_en}
    link = await _link(session, telegram_id)
    if link is not None and link.member_id == member_id:
        return RequestResult(RequestOutcome.ALREADY_LINKED, **names)
    pending = (
        await session.execute(
            select(col(AccessRequest.id)).where(
                col(AccessRequest.telegram_id) == telegram_id,
                col(AccessRequest.member_id) == member_id,
                col(AccessRequest.status) == RequestStatus.PENDING,
            )
        )
    ).scalar_one_or_none()
    if pending is not None:
        return RequestResult(RequestOutcome.ALREADY_PENDING, pending, **names)
    open_requests = (
        await session.execute(
            select(func.count())
            .select_from(AccessRequest)
            .where(
                col(AccessRequest.telegram_id) == telegram_id,
                col(AccessRequest.status) == RequestStatus.PENDING,
            )
        )
    ).scalar_one()
    if open_requests >= MAX_PENDING_REQUESTS:
        return RequestResult(RequestOutcome.TOO_MANY, **names)
    request = AccessRequest(
        telegram_id=telegram_id,
        member_id=member_id,
        full_name=clean_line(full_name, MAX_NAME),
        position=clean_line(position, MAX_NAME),
        created_at=now,
    )
    session.add(request)
    await session.commit()
    return RequestResult(RequestOutcome.CREATED, request.id or 0, region=member.region, **names)


class DecisionOutcome(StrEnum):
    """What a staff tap on approve or deny did."""

    APPROVED = "approved"
    DENIED = "denied"
    ALREADY_DECIDED = "already_decided"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Decision:
    """The result of deciding an access request."""

    outcome: DecisionOutcome
    requester_id: int = 0
    full_name: str = ""
    position: str = ""
    member_name_uk: str = ""
    member_name_en: str = ""
    status: str = ""
    requester_language: str = DEFAULT_LANGUAGE


async def decide_access_request(
    *, session: AsyncSession, request_id: int, approve: bool, staff_id: int, now: datetime
) -> Decision:
    """Approve (linking the requester as an official) or deny a pending request, once."""
    request = await session.get(AccessRequest, request_id)
    if request is None:
        return Decision(DecisionOutcome.NOT_FOUND)
    member = await session.get(Member, request.member_id)
    assert member is not None  # noqa: S101 - foreign key
    details: dict[str, Any] = {
        "requester_id": request.telegram_id,
        "full_name": request.full_name,
        "position": request.position,
        "member_name_uk": member.name_uk,
        "member_name_en": member.name_en,
    }
    requester = await session.get(TelegramUser, request.telegram_id)
    if requester is not None:
        details["requester_language"] = pick_language(requester.language, requester.language_code)
    status = RequestStatus.APPROVED if approve else RequestStatus.DENIED
    decided = await session.execute(
        update(AccessRequest)
        .where(
            col(AccessRequest.id) == request_id, col(AccessRequest.status) == RequestStatus.PENDING
        )
        .values(status=status, decided_at=now, decided_by=staff_id)
    )
    if decided.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()  # expires `request`: read the winner's status afresh
        current = (
            await session.execute(
                select(col(AccessRequest.status)).where(col(AccessRequest.id) == request_id)
            )
        ).scalar_one()
        return Decision(DecisionOutcome.ALREADY_DECIDED, status=current, **details)
    if approve:
        if requester is None:
            session.add(TelegramUser(id=request.telegram_id, created_at=now, last_seen_at=now))
            await session.flush()
        await _attach(
            session,
            telegram_id=request.telegram_id,
            member_id=request.member_id,
            role=Role.OFFICIAL,
            full_name=request.full_name,
            position=request.position,
            now=now,
        )
    await session.commit()
    outcome = DecisionOutcome.APPROVED if approve else DecisionOutcome.DENIED
    return Decision(outcome, status=status, **details)


@dataclass(frozen=True)
class StaffContact:
    """A staff member to notify, in their language."""

    telegram_id: int
    language: str


async def staff_contacts(
    *, session: AsyncSession, admin_ids: frozenset[int]
) -> list[StaffContact]:
    """Everyone who decides access requests: ADMIN_IDS and officials with the admin role."""
    linked = set(
        (
            await session.execute(
                select(col(Official.telegram_id)).where(
                    col(Official.role) == Role.ADMIN,
                    col(Official.active),
                    col(Official.telegram_id).is_not(None),
                )
            )
        ).scalars()
    )
    ids = sorted(set(admin_ids) | {i for i in linked if i is not None})
    users = {
        u.id: u
        for u in (
            await session.execute(select(TelegramUser).where(col(TelegramUser.id).in_(ids)))
        ).scalars()
    }
    return [
        StaffContact(
            i,
            pick_language(users[i].language, users[i].language_code)
            if i in users
            else DEFAULT_LANGUAGE,
        )
        for i in ids
    ]


async def count_members(*, session: AsyncSession) -> int:
    """How many councils are in the registry."""
    return int((await session.execute(select(func.count()).select_from(Member))).scalar_one())
