"""One-time invite links: issuing them for a council and redeeming them with /start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services.callers import Link, Profile, find_link, link_account
from bot.services.members import member_by_code
from bot.text import clean_line
from models import Invite, Member, Role, TelegramUser

INVITE_TTL = timedelta(days=14)


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
    ALREADY_LINKED = "already_linked"  # by this very invite, earlier
    SAME_COUNCIL = "same_council"  # linked already, with the same council and role: unused
    CONFIRM_SWITCH = "confirm_switch"  # linked to another council (or role): ask first
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
    current: Link | None = None  # the caller's link before this invite


async def redeem_invite(
    *, session: AsyncSession, code: str, profile: Profile, now: datetime, switch: bool = False
) -> Redeemed:
    """Use an invite code: link the account, or say why not (unknown, used, expired).

    Someone linked already does not use up an invite of their own council (a colleague's,
    probably), and moves to another council only when they confirm it (`switch`).
    """
    invite = (
        await session.execute(select(Invite).where(col(Invite.code) == code))
    ).scalar_one_or_none()
    if invite is None:
        return Redeemed(InviteOutcome.UNKNOWN)
    member = await session.get(Member, invite.member_id)
    assert member is not None  # noqa: S101 - foreign key
    names: dict[str, Any] = {"member_name_uk": member.name_uk, "member_name_en": member.name_en}
    if invite.used_at is not None:
        link = await find_link(session, profile.telegram_id)
        if invite.used_by == profile.telegram_id and link and link.member_id == member.id:
            return Redeemed(InviteOutcome.ALREADY_LINKED, role=link.role, **names)
        return Redeemed(InviteOutcome.USED)
    if invite.expires_at <= now:
        return Redeemed(InviteOutcome.EXPIRED)
    current = await find_link(session, profile.telegram_id)
    if current is not None:
        if current.member_id == member.id and current.role == invite.role:
            return Redeemed(InviteOutcome.SAME_COUNCIL, role=current.role, **names)
        if not switch:
            return Redeemed(
                InviteOutcome.CONFIRM_SWITCH, role=invite.role, current=current, **names
            )
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
    await link_account(
        session,
        telegram_id=profile.telegram_id,
        member_id=member.id,  # type: ignore[arg-type]
        role=invite.role,
        full_name=profile.full_name,
        position="",
        now=now,
    )
    await session.commit()
    return Redeemed(InviteOutcome.LINKED, role=invite.role, current=current, **names)
