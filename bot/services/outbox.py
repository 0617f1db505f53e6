"""The outbox: enqueue in the caller's transaction; claim, settle and recover for the dispatcher.

Everything the bot says on its own initiative is a row here, written in the same transaction
as the change that causes it, so a crash never leaves the one without the other. Dedupe keys
make every write idempotent: a re-plan, a retry or a second instance inserts nothing twice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from bot.services.audiences import Query, language_expr, reachable_officials, wants
from models import Official, Outbox, OutboxStatus, PlanMark, TelegramUser, UTCDateTime

MAX_TEXT = 4096  # Telegram's limit for a message
MAX_CAPTION = 1024  # and for a document's caption (both counted after entity parsing)
MAX_ERROR = 500
# Claimable statuses; a deferred row waits for its `not_before` like a pending one.
CLAIMABLE = (OutboxStatus.PENDING, OutboxStatus.DEFERRED)
# PostgreSQL advisory lock namespace of amu-bot's notification machinery ("amu" in ASCII).
LOCK_NAMESPACE = 0x616D75
PLANNER_LOCK = 1


def insert_for(session_or_conn: AsyncSession | AsyncConnection, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    if _dialect(session_or_conn) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _dialect(session_or_conn: AsyncSession | AsyncConnection) -> str:
    if isinstance(session_or_conn, AsyncSession):
        return session_or_conn.get_bind().dialect.name
    return session_or_conn.dialect.name


Buttons = list[list[dict[str, Any]]]


@dataclass(frozen=True)
class Rendered:
    """A message rendered for one reader: HTML text and buttons as Telegram's JSON.

    A button with `callback_data` or `url` is an inline button; rows of buttons with only
    `text` are a persistent reply keyboard (the menu), as the dispatcher sends them.
    """

    text: str
    buttons: Buttons | None = None


_TAG = re.compile(r"<[^>]*>")


def visible_length(text: str) -> int:
    """How long Telegram counts an HTML text: tags dropped, entities read, in UTF-16 units.

    UTF-16 units are never fewer than characters, so a text that fits by this count fits
    whichever way Telegram counts.
    """
    return len(html.unescape(_TAG.sub("", text)).encode("utf-16-le")) // 2


def fits_caption(text: str) -> bool:
    """Whether an HTML text can be a document's caption; longer ones go as their own message."""
    return visible_length(text.strip()) <= MAX_CAPTION


@dataclass(frozen=True)
class Document:
    """A file to send with a message: its bytes, a path the dispatcher reads at send time, or
    the file_id of a file Telegram already holds (one staff sent to the bot)."""

    filename: str
    content: bytes | None = None
    path: str | None = None
    file_id: str | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.content, self.path, self.file_id)) != 1:
            raise ValueError("a document has exactly one of content, a path or a file_id")


async def enqueue(
    *,
    session: AsyncSession,
    recipient: int,
    text: str,
    kind: str,
    dedupe_key: str,
    not_before: datetime,
    expires_at: datetime | None = None,
    urgent: bool = False,
    buttons: list[list[dict[str, Any]]] | None = None,
    document: Document | None = None,
    announcement_id: int | None = None,
) -> bool:
    """Add a message to the outbox in the caller's transaction (no commit here).

    Returns False when a row with this dedupe key already exists (nothing is written). A text
    too long for a caption goes as its own message just before the document (the dispatcher
    splits it, see `OutgoingMessage.parts`).
    """
    if not text.strip() or len(text) > MAX_TEXT:
        raise ValueError(f"message text must be 1..{MAX_TEXT} characters, got {len(text)}")
    values: dict[str, Any] = {
        "recipient": recipient,
        "text": text,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "not_before": not_before,
        "expires_at": expires_at,
        "urgent": urgent,
        "buttons": buttons,
        "announcement_id": announcement_id,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": not_before,
    }
    if document is not None:
        values.update(
            document=document.content,
            document_path=document.path,
            document_name=document.filename,
            document_file_id=document.file_id,
        )
    stmt = (
        insert_for(session, Outbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result: Any = await session.execute(stmt)
    return bool(result.rowcount)


async def enqueue_select(
    *,
    session: AsyncSession,
    recipients: Query,
    text: str,
    kind: str,
    key_prefix: str,
    not_before: datetime,
    expires_at: datetime | None = None,
    urgent: bool = False,
    announcement_id: int | None = None,
    buttons: Buttons | None = None,
    document: Document | None = None,
) -> int:
    """INSERT ... SELECT one message to each recipient; `recipients` yields telegram ids.

    Each row's dedupe key is `key_prefix` followed by the recipient's id. Returns the number
    of rows written (existing keys are skipped). Buttons and a document, when given, go with
    every row.
    """
    tg = recipients.subquery().c[0]
    columns = Outbox.__table__.c  # type: ignore[attr-defined]
    names = [
        "recipient",
        "text",
        "kind",
        "dedupe_key",
        "not_before",
        "expires_at",
        "urgent",
        "status",
        "attempts",
        "announcement_id",
        "created_at",
    ]
    extra: list[Any] = []
    if buttons:  # a JSON None would be stored as JSON null, not NULL
        names.append("buttons")
        extra.append(literal(buttons, columns.buttons.type))
    if document is not None:
        names += ["document", "document_path", "document_name", "document_file_id"]
        extra += [
            literal(document.content, columns.document.type),
            literal(document.path, columns.document_path.type),
            literal(document.filename, columns.document_name.type),
            literal(document.file_id, columns.document_file_id.type),
        ]
    rows = select(
        tg,
        literal(text, columns.text.type),
        literal(kind, columns.kind.type),
        literal(key_prefix, columns.dedupe_key.type) + cast(tg, String),
        literal(not_before, columns.not_before.type),
        literal(expires_at, columns.expires_at.type),
        literal(urgent, columns.urgent.type),
        literal(OutboxStatus.PENDING.value, columns.status.type),
        literal(0, columns.attempts.type),
        literal(announcement_id, columns.announcement_id.type),
        literal(not_before, columns.created_at.type),
        *extra,
    ).where(tg.is_not(None))  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    stmt = (
        insert_for(session, Outbox)
        .from_select(names, rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result: Any = await session.execute(stmt)
    return int(result.rowcount or 0)


# Messages rendered per group (a council, an event) and language, staged for one
# INSERT ... SELECT fan-out to the people of each group.
_staged = Table(
    "outbox_staged",
    MetaData(),
    Column("group_id", Integer, nullable=False),
    Column("lang", String(5), nullable=False),
    Column("text", Text, nullable=False),
    Column("key_prefix", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("urgent", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)


async def enqueue_staged(
    *,
    session: AsyncSession,
    messages: Sequence[dict[str, Any]],
    people: Query,
    kind: str,
    now: datetime,
) -> int:
    """One message per group and language to each of that group's people who read it.

    `messages` hold group_id, lang, text, key_prefix (the recipient's id completes the dedupe
    key), expires_at and optionally urgent; `people` selects (group_id, telegram_id, lang)
    of everyone each group reaches. The messages are staged in a temporary table, then fanned
    out with a single INSERT ... SELECT: a thousand councils or events cost two statements,
    not one per group and language. No commit here.
    """
    if not messages:
        return 0
    staged = [{"urgent": False, **m} for m in messages]
    await session.run_sync(lambda s: _staged.create(s.connection()))
    try:
        await session.execute(insert(_staged), staged)
        if _dialect(session) == "postgresql":
            # Temporary tables get no statistics by themselves (autovacuum never sees them).
            await session.execute(text("ANALYZE outbox_staged"))
        columns = Outbox.__table__.c  # type: ignore[attr-defined]
        # The people first, materialised, then joined on group AND language: a hash join
        # on both keys stays linear whatever the planner's statistics say (joining on the
        # language expression alone nested ~10^8 rows on a freshly loaded PostgreSQL).
        crowd = people.cte("people").prefix_with("MATERIALIZED")
        group_id, tg, lang = crowd.c[0], crowd.c[1], crowd.c[2]
        rows = (
            select(
                tg,
                _staged.c.text,
                literal(kind, columns.kind.type),
                _staged.c.key_prefix + cast(tg, String),
                literal(now, columns.not_before.type),
                _staged.c.expires_at,
                _staged.c.urgent,
                literal(OutboxStatus.PENDING.value, columns.status.type),
                literal(0, columns.attempts.type),
                literal(now, columns.created_at.type),
            )
            .select_from(
                _staged.join(crowd, and_(group_id == _staged.c.group_id, lang == _staged.c.lang))
            )
            .where(tg.is_not(None))  # SQLite needs a WHERE before ON CONFLICT
        )
        stmt = (
            insert_for(session, Outbox)
            .from_select(
                [
                    "recipient",
                    "text",
                    "kind",
                    "dedupe_key",
                    "not_before",
                    "expires_at",
                    "urgent",
                    "status",
                    "attempts",
                    "created_at",
                ],
                rows,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result: Any = await session.execute(stmt)
        if result.rowcount is None or result.rowcount < 0:
            # sqlite3 reports no count for a statement that starts with WITH.
            return int((await session.execute(text("SELECT changes()"))).scalar_one())
        return int(result.rowcount)
    finally:
        await session.run_sync(lambda s: _staged.drop(s.connection()))


def staged_groups() -> Any:
    """The group ids staged by `enqueue_staged`, for narrowing its `people` query."""
    return select(_staged.c.group_id)


async def enqueue_per_council(
    *,
    session: AsyncSession,
    messages: Sequence[dict[str, Any]],
    kind: str,
    now: datetime,
    news: str | None = None,
) -> int:
    """One message per council and language to each reachable official of that council.

    `messages` hold member_id, lang, text, key_prefix (the recipient's id completes the
    dedupe key) and expires_at; `news`, a kind of news (audiences.NEWS_FLAGS), leaves out
    the officials who turned it off. No commit here.
    """
    people: Query = (
        reachable_officials()
        .with_only_columns(
            col(Official.member_id).label("group_id"),
            col(TelegramUser.id).label("telegram_id"),
            language_expr().label("lang"),
            maintain_column_froms=True,
        )
        .where(col(Official.member_id).in_(staged_groups()))
        .where(wants(news) if news is not None else true())
    )
    staged = [
        {"group_id": m["member_id"], **{k: v for k, v in m.items() if k != "member_id"}}
        for m in messages
    ]
    return await enqueue_staged(
        session=session, messages=staged, people=people, kind=kind, now=now
    )


async def mark_planned(*, session: AsyncSession, keys: Sequence[str], now: datetime) -> None:
    """Remember that these reminder moments are handled."""
    if not keys:
        return
    stmt = insert_for(session, PlanMark).on_conflict_do_nothing(index_elements=["key"])
    await session.execute(stmt, [{"key": k, "created_at": now} for k in keys])


@dataclass(frozen=True)
class Claimed:
    """A claimed outbox row: what the dispatcher needs to send it."""

    id: int
    recipient: int
    text: str
    buttons: list[list[dict[str, Any]]] | None
    document: bytes | None
    document_path: str | None
    document_name: str | None
    document_file_id: str | None
    urgent: bool
    attempts: int
    quiet_hours: str | None  # the recipient's own setting, None for the default
    blocked: bool  # the recipient has blocked the bot (known before sending)


async def claim(*, session: AsyncSession, owner: int, now: datetime, limit: int) -> list[Claimed]:
    """Take up to `limit` due rows, urgent first then oldest, marking them `sending`; commits.

    PostgreSQL: `FOR UPDATE SKIP LOCKED` lets dispatchers in many processes claim disjoint
    rows. SQLite: one UPDATE ... RETURNING is atomic under its single writer.
    """
    await session.execute(
        update(Outbox)
        .where(
            col(Outbox.status).in_(CLAIMABLE),
            col(Outbox.not_before) <= now,
            col(Outbox.expires_at) <= now,
        )
        .values(status=OutboxStatus.DROPPED, last_error="no longer relevant when due")
        .execution_options(synchronize_session=False)
    )
    due = (
        select(col(Outbox.id))
        .where(col(Outbox.status).in_(CLAIMABLE), col(Outbox.not_before) <= now)
        .order_by(col(Outbox.urgent).desc(), col(Outbox.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Outbox)
        .where(col(Outbox.id).in_(due.scalar_subquery()))
        .values(
            status=OutboxStatus.SENDING,
            attempts=col(Outbox.attempts) + 1,
            claimed_by=owner,
            claimed_at=now,
        )
        .returning(
            col(Outbox.id),
            col(Outbox.recipient),
            col(Outbox.text),
            col(Outbox.buttons),
            col(Outbox.document),
            col(Outbox.document_path),
            col(Outbox.document_name),
            col(Outbox.document_file_id),
            col(Outbox.urgent),
            col(Outbox.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(stmt)).all()
    await session.commit()
    if not rows:
        return []
    people = {
        r[0]: (r[1], r[2] is not None)
        for r in await session.execute(
            select(
                col(TelegramUser.id), col(TelegramUser.quiet_hours), col(TelegramUser.blocked_at)
            ).where(col(TelegramUser.id).in_({row[1] for row in rows}))
        )
    }
    claimed = [
        Claimed(*row, *people.get(row[1], (None, False)))  # type: ignore[call-arg]
        for row in rows
    ]
    claimed.sort(key=lambda c: (not c.urgent, c.id))
    return claimed


@dataclass(frozen=True)
class Settlement:
    """What became of one claimed row."""

    id: int
    status: OutboxStatus
    error: str | None = None
    not_before: datetime | None = None  # for rows put back (deferred, retried)
    sent_at: datetime | None = None
    blocked_recipient: int | None = None
    attempted: bool = True  # False: put back unsent (the dispatcher is stopping)


async def settle(*, session: AsyncSession, results: Sequence[Settlement], now: datetime) -> None:
    """Record the outcome of claimed rows in one transaction; commits.

    A 403 marks the person blocked (`blocked_at`), which takes them out of every audience,
    and settles their other waiting messages as blocked too: they would fail the same way.
    """
    if not results:
        return
    for r in results:
        values: dict[str, Any] = {
            "status": r.status,
            "last_error": r.error[:MAX_ERROR] if r.error else None,
            "claimed_by": None,
        }
        if r.sent_at is not None:
            values["sent_at"] = r.sent_at
        if r.not_before is not None:
            values["not_before"] = r.not_before
        if r.status == OutboxStatus.DEFERRED or not r.attempted:
            # Waiting for the morning, or for the next start, is not an attempt.
            values["attempts"] = col(Outbox.attempts) - 1
        await session.execute(
            update(Outbox)
            .where(col(Outbox.id) == r.id, col(Outbox.status) == OutboxStatus.SENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    blocked = {r.blocked_recipient for r in results if r.blocked_recipient is not None}
    if blocked:
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.id).in_(blocked), col(TelegramUser.blocked_at).is_(None))
            .values(blocked_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Outbox)
            .where(col(Outbox.recipient).in_(blocked), col(Outbox.status).in_(CLAIMABLE))
            .values(status=OutboxStatus.BLOCKED, last_error="blocked the bot")
            .execution_options(synchronize_session=False)
        )
    await session.commit()


async def orphan_owners(*, session: AsyncSession, me: int) -> list[int]:
    """Dispatchers other than `me` that hold rows in `sending`."""
    owners = await session.execute(
        select(col(Outbox.claimed_by))
        .where(col(Outbox.status) == OutboxStatus.SENDING, col(Outbox.claimed_by) != me)
        .distinct()
    )
    return [owner for owner in owners.scalars() if owner is not None]


async def release(*, session: AsyncSession, owner: int) -> int:
    """Put a dead dispatcher's in-flight rows back to `pending`; they will be sent again.

    Whether Telegram got them before the crash is unknown; sending again can repeat at most
    these messages, while marking them failed could lose them (DESIGN: only in-flight repeat).
    """
    result: Any = await session.execute(
        update(Outbox)
        .where(col(Outbox.status) == OutboxStatus.SENDING, col(Outbox.claimed_by) == owner)
        .values(status=OutboxStatus.PENDING, claimed_by=None, last_error="resent after a crash")
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount or 0)


async def try_lock(conn: AsyncConnection, key: int, namespace: int = LOCK_NAMESPACE) -> bool:
    """pg_try_advisory_lock (session level) on PostgreSQL; True on SQLite."""
    if conn.dialect.name != "postgresql":
        return True
    got = await conn.execute(
        text("SELECT pg_try_advisory_lock(:ns, :key)"), {"ns": namespace, "key": key}
    )
    return bool(got.scalar())


async def holders(conn: AsyncConnection, namespace: int) -> int:
    """How many sessions hold a try_lock in `namespace` on this database (PostgreSQL's
    pg_locks lists every database's on the server); 1 on SQLite, which serves one process."""
    if conn.dialect.name != "postgresql":
        return 1
    count = await conn.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
            " AND classid = :ns AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"ns": namespace},
    )
    return int(count.scalar_one())


async def unlock(conn: AsyncConnection, key: int, namespace: int = LOCK_NAMESPACE) -> None:
    """Release a lock taken with try_lock."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": namespace, "key": key}
        )


async def try_xact_lock(session: AsyncSession, key: int) -> bool:
    """pg_try_advisory_xact_lock: held until the transaction ends; True on SQLite."""
    if _dialect(session) != "postgresql":
        return True
    got = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": key}
    )
    return bool(got.scalar())


@dataclass(frozen=True)
class DeliveryReport:
    """Where the messages of one announcement stand."""

    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    waiting: int = 0  # for the end of quiet hours
    pending: int = 0  # not sent yet (or being sent)
    dropped: int = 0

    @property
    def total(self) -> int:
        """Every message of the announcement."""
        return sum(
            (self.delivered, self.blocked, self.failed, self.waiting, self.pending, self.dropped)
        )


async def delivery_report(*, session: AsyncSession, announcement_id: int) -> DeliveryReport:
    """Counts by status of an announcement's messages."""
    counts: dict[str, int] = {
        status: n
        for status, n in await session.execute(
            select(col(Outbox.status), func.count())
            .where(col(Outbox.announcement_id) == announcement_id)
            .group_by(col(Outbox.status))
        )
    }
    return DeliveryReport(
        delivered=counts.get(OutboxStatus.SENT, 0),
        blocked=counts.get(OutboxStatus.BLOCKED, 0),
        failed=counts.get(OutboxStatus.FAILED, 0),
        waiting=counts.get(OutboxStatus.DEFERRED, 0),
        pending=counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0),
        dropped=counts.get(OutboxStatus.DROPPED, 0),
    )
