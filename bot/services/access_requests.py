"""Access requests: a stranger asks to be linked to a council, staff approve or deny once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services.callers import DEFAULT_LANGUAGE, find_link, link_account, pick_language
from bot.services.outbox import Rendered, enqueue
from bot.services.staff import staff_contacts
from bot.text import clean_line
from models import AccessRequest, Member, RequestStatus, Role, TelegramUser

MAX_NAME = 200
# Each request notifies every staff member: one person cannot keep more than this open.
MAX_PENDING_REQUESTS = 3


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


async def too_many_pending(*, session: AsyncSession, telegram_id: int) -> bool:
    """Whether the person already has as many pending requests as one may have open."""
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
    return bool(open_requests >= MAX_PENDING_REQUESTS)


async def request_access(
    *,
    session: AsyncSession,
    telegram_id: int,
    member_id: int,
    full_name: str,
    position: str,
    now: datetime,
    admin_ids: frozenset[int] = frozenset(),
    render_staff: Callable[[str, RequestResult], Rendered] | None = None,
) -> RequestResult:
    """File a request to be linked to a council; one pending request per person and council.

    Staff hear of it through the outbox, in the same transaction: one message per staff
    member (`ADMIN_IDS` and linked admins), rendered by `render_staff(language, result)`.
    """
    member = await session.get(Member, member_id)
    if member is None:
        return RequestResult(RequestOutcome.NO_MEMBER)
    names: dict[str, Any] = {"member_name_uk": member.name_uk, "member_name_en": member.name_en}
    link = await find_link(session, telegram_id)
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
    if await too_many_pending(session=session, telegram_id=telegram_id):
        return RequestResult(RequestOutcome.TOO_MANY, **names)
    request = AccessRequest(
        telegram_id=telegram_id,
        member_id=member_id,
        full_name=clean_line(full_name, MAX_NAME),
        position=clean_line(position, MAX_NAME),
        created_at=now,
    )
    session.add(request)
    await session.flush()
    result = RequestResult(RequestOutcome.CREATED, request.id or 0, region=member.region, **names)
    if render_staff is not None:
        for contact in await staff_contacts(session=session, admin_ids=admin_ids):
            message = render_staff(contact.language, result)
            await enqueue(
                session=session,
                recipient=contact.telegram_id,
                text=message.text,
                buttons=message.buttons,
                kind="access_request",
                dedupe_key=f"access:{result.request_id}:to:{contact.telegram_id}",
                not_before=now,
                urgent=True,  # someone is waiting for an answer
            )
    await session.commit()
    return result


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
    *,
    session: AsyncSession,
    request_id: int,
    approve: bool,
    staff_id: int,
    now: datetime,
    render_decision: Callable[[Decision], Rendered] | None = None,
) -> Decision:
    """Approve (linking the requester as an official) or deny a pending request, once.

    The requester hears the decision through the outbox, in the same transaction, rendered
    by `render_decision(decision)` in their language (`decision.requester_language`).
    """
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
        await link_account(
            session,
            telegram_id=request.telegram_id,
            member_id=request.member_id,
            role=Role.OFFICIAL,
            full_name=request.full_name,
            position=request.position,
            now=now,
        )
    outcome = DecisionOutcome.APPROVED if approve else DecisionOutcome.DENIED
    decision = Decision(outcome, status=status, **details)
    if render_decision is not None:
        message = render_decision(decision)
        await enqueue(
            session=session,
            recipient=request.telegram_id,
            text=message.text,
            buttons=message.buttons,
            kind="access_decision",
            dedupe_key=f"access:{request_id}:decision",
            not_before=now,
            urgent=True,
        )
    await session.commit()
    return decision
