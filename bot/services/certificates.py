"""Certificates of completed trainings: issued on attendance, checked by their code."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.i18n import localized
from bot.services.callers import pick_language
from models import BotState, Certificate, Event, Member, Official, Registration, TelegramUser

# No 0/O or 1/I: people type codes from paper too.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CODE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
VERIFY_PREFIX = "verify-"


def new_code() -> str:
    """A random verification code (50 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """The code in canonical form, or None if it cannot be one."""
    code = text.strip().upper()
    return code if CODE.match(code) else None


@dataclass(frozen=True)
class CertificateView:
    """What a certificate says, and whom it belongs to."""

    id: int
    number: str
    code: str
    full_name: str
    member_name_uk: str
    member_name_en: str
    title_uk: str
    title_en: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    hours: int
    issued_at: datetime
    official_id: int
    telegram_id: int | None
    language: str

    def title(self, lang: str) -> str:
        """The training's title in the reader's language."""
        return localized(lang, self.title_uk, self.title_en)

    def member_name(self, lang: str) -> str:
        """The council's name in the reader's language."""
        return localized(lang, self.member_name_uk, self.member_name_en)


async def issue(
    *, session: AsyncSession, registration: Registration, event: Event, now: datetime
) -> Certificate | None:
    """The certificate of an attended training (one per registration; None if it exists)."""
    existing = (
        await session.execute(
            select(Certificate).where(col(Certificate.registration_id) == registration.id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return None
    official = await session.get(Official, registration.official_id)
    member = await session.get(Member, registration.member_id)
    assert official is not None and member is not None  # noqa: S101 - foreign keys
    code = new_code()
    cert = Certificate(
        registration_id=registration.id or 0,
        event_id=event.id or 0,
        official_id=official.id or 0,
        number=f"pending-{code}",
        code=code,
        full_name=official.full_name,
        member_name_uk=member.name_uk,
        member_name_en=member.name_en,
        hours=event.hours or 0,
        issued_at=now,
    )
    session.add(cert)
    await session.flush()
    cert.number = f"AMU-{now.year}-{cert.id:05d}"
    return cert


async def withdraw(*, session: AsyncSession, registration_id: int) -> None:
    """Remove the certificate of a registration marked attended by mistake."""
    await session.execute(
        delete(Certificate).where(col(Certificate.registration_id) == registration_id)
    )


async def _view(session: AsyncSession, *condition: object) -> CertificateView | None:
    row = (
        await session.execute(
            select(
                Certificate,
                Event,
                col(Official.telegram_id),
                col(TelegramUser.language),
                col(TelegramUser.language_code),
            )
            .join(Event, col(Event.id) == col(Certificate.event_id))
            .join(Official, col(Official.id) == col(Certificate.official_id))
            .outerjoin(TelegramUser, col(TelegramUser.id) == col(Official.telegram_id))
            .where(*condition)  # type: ignore[arg-type]
        )
    ).one_or_none()
    if row is None:
        return None
    cert, event, telegram_id, language, language_code = row
    return CertificateView(
        id=cert.id or 0,
        number=cert.number,
        code=cert.code,
        full_name=cert.full_name,
        member_name_uk=cert.member_name_uk,
        member_name_en=cert.member_name_en,
        title_uk=event.title_uk,
        title_en=event.title_en,
        kind=event.kind,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        hours=cert.hours,
        issued_at=cert.issued_at,
        official_id=cert.official_id,
        telegram_id=telegram_id,
        language=pick_language(language, language_code),
    )


async def by_code(*, session: AsyncSession, code: str) -> CertificateView | None:
    """The certificate with this verification code, if it exists."""
    normal = normalise_code(code)
    if normal is None:
        return None
    return await _view(session, col(Certificate.code) == normal)


async def by_id(*, session: AsyncSession, certificate_id: int) -> CertificateView | None:
    """A certificate by its id."""
    return await _view(session, col(Certificate.id) == certificate_id)


async def bot_username(*, session: AsyncSession) -> str | None:
    """The bot's username as it remembers it (bot_state `username`), if it does."""
    state = await session.get(BotState, "username")
    return state.value if state is not None and state.value else None


def verify_link(username: str, code: str) -> str:
    """The deep link that checks a certificate."""
    return f"https://t.me/{username}?start={VERIFY_PREFIX}{code}"
