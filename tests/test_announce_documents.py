"""A document with an announcement: its file_id goes draft → announcement → one outbox row per
recipient, and the dispatcher sends it by file_id: as one message with the text as its caption,
or, when the text is too long for a caption, the text and then the document, the document at
most once (SQLite, and PostgreSQL with AMU_TEST_DATABASE_URL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.db import Database
from bot.i18n import Translator
from bot.notifications.planner import plan
from bot.notifications.sender import (
    Blocked,
    OutgoingMessage,
    Rejected,
    RetryLater,
    SendError,
    Transient,
)
from bot.services import announce_drafts as drafts
from bot.services import announcements
from bot.services.announce_drafts import Author, DraftError, Step
from bot.services.outbox import MAX_CAPTION, Document, enqueue, fits_caption, visible_length
from models import OutboxStatus
from tests.notify_support import (
    START,
    FakeSender,
    FakeTime,
    add_member,
    add_person,
    dispatcher,
    outbox_rows,
)

KYIV = ZoneInfo("Europe/Kyiv")
FILE_ID = "BQACAgIAAxkBAAIBZ2dQproektZakonu"
STAFF = Author(900)
SHORT = "Проєкт закону: просимо відгуки до п’ятниці."
LONG = "Шановні колеги! " + "Просимо ознайомитися з проєктом і надіслати відгуки. " * 25


async def officials(db: Database, *ids: int) -> None:
    async with db.session() as session:
        member = await add_member(session, "10000001")
        for tg in ids:
            await add_person(session, tg, member)
        await session.commit()


def test_the_caption_limit_counts_what_telegram_shows() -> None:
    assert visible_length("<b>Форум</b> &lt;2026&gt; &amp; Co") == len("Форум <2026> & Co")
    assert visible_length("👍") == 2  # UTF-16 units: never fewer than Telegram counts
    assert fits_caption("x" * MAX_CAPTION) and not fits_caption("x" * (MAX_CAPTION + 1))
    assert fits_caption("<b>" + "x" * MAX_CAPTION + "</b>")  # tags are not shown
    assert not fits_caption("&amp;" * (MAX_CAPTION + 1))


def test_a_message_splits_only_when_its_document_cannot_carry_the_text() -> None:
    buttons = [[{"text": "🔗 auc.org.ua", "url": "https://auc.org.ua"}]]
    short = OutgoingMessage(1, SHORT, buttons, document_file_id=FILE_ID)
    assert short.parts() == (short,)
    plain = OutgoingMessage(1, LONG, buttons)
    assert plain.parts() == (plain,)  # no document: a message holds 4096
    text, document = OutgoingMessage(1, LONG, buttons, document_file_id=FILE_ID).parts()
    assert text == OutgoingMessage(1, LONG, buttons)
    assert document == OutgoingMessage(1, "", None, document_file_id=FILE_ID)


async def test_the_file_id_flows_from_the_draft_to_every_outbox_row(db: Database) -> None:
    await officials(db, 11, 12)
    async with db.session() as session:
        await drafts.start(session=session, author=STAFF, now=START)
        await drafts.set_text(session=session, author=STAFF, text=LONG, now=START)
        draft = await drafts.set_document(
            session=session,
            author=STAFF,
            file_id=f" {FILE_ID} ",
            name="проєкт\nзакону.pdf",
            size=250_000,
            now=START,
        )
        assert draft.step == Step.LINK  # a link may still come
        assert not drafts.caption_fits(draft)
        draft = await drafts.set_link(
            session=session, author=STAFF, url="https://auc.org.ua/p", now=START
        )
        assert draft.step == Step.AUDIENCE  # both attached: nothing more to ask
        await drafts.set_audience(session=session, author=STAFF, audience="all", now=START)
        await drafts.send_now(session=session, author=STAFF, now=START)
        item = await drafts.confirm(session=session, author=STAFF, now=START, today=START.date())
    assert (item.document_file_id, item.document_name) == (FILE_ID, "проєкт закону.pdf")
    rows = await outbox_rows(db)
    assert sorted(r.recipient for r in rows) == [11, 12]
    for row in rows:
        assert (row.document_file_id, row.document_name) == (FILE_ID, "проєкт закону.pdf")
        assert row.document is None and row.document_path is None
        assert row.text == announcements.as_html(LONG)  # longer than a caption: still one row
        assert row.buttons == [[{"text": "🔗 auc.org.ua", "url": "https://auc.org.ua/p"}]]


async def test_bad_documents_change_nothing(db: Database) -> None:
    async with db.session() as session:
        await drafts.start(session=session, author=STAFF, now=START)
        with pytest.raises(DraftError, match="wrong_step"):  # the text comes first
            await drafts.set_document(
                session=session, author=STAFF, file_id=FILE_ID, name="a.pdf", size=1, now=START
            )
        await drafts.set_text(session=session, author=STAFF, text=SHORT, now=START)
        big = drafts.MAX_DOCUMENT_BYTES + 1
        for file_id, size, reason in (
            (FILE_ID, big, "too_big"),
            ("", 1, "bad_document"),
            ("x" * 201, 1, "bad_document"),
            ("two words", 1, "bad_document"),
        ):
            with pytest.raises(DraftError, match=reason):
                await drafts.set_document(
                    session=session, author=STAFF, file_id=file_id, name="a", size=size, now=START
                )
        draft = await drafts.current(session=session, author=STAFF)
        assert draft is not None and draft.step == Step.LINK
        assert draft.document_file_id is None and draft.document_name is None
        # A file whose size Telegram did not say, and no name: accepted, named plainly.
        draft = await drafts.set_document(
            session=session, author=STAFF, file_id=FILE_ID, name=None, size=None, now=START
        )
        assert draft.document_name == "document" and drafts.caption_fits(draft)
        draft = await drafts.attachments_done(session=session, author=STAFF, now=START)
        assert draft.step == Step.AUDIENCE and draft.link_url is None


async def test_a_scheduled_announcement_takes_its_document_to_the_outbox(db: Database) -> None:
    await officials(db, 11)
    clock = ManualClock(KYIV, START)
    at = START.replace(hour=15)
    async with db.session() as session:
        item = await announcements.create(
            session=session,
            text=SHORT,
            audience="all",
            now=clock.now(),
            today=clock.today(),
            send_at=at,
            document_file_id=FILE_ID,
            document_name="proekt.pdf",
        )
    assert await outbox_rows(db) == []
    clock.set(at)
    result = await plan(db=db, clock=clock, translator=Translator(KYIV))
    assert result is not None and result.written["announcements"] == 1
    [row] = await outbox_rows(db)
    assert (row.document_file_id, row.document_name, row.announcement_id) == (
        FILE_ID,
        "proekt.pdf",
        item.id,
    )
    sender = FakeSender()
    await dispatcher(db, sender, clock, quiet="off").drain()
    assert sender.sent == [
        OutgoingMessage(11, SHORT, None, document_file_id=FILE_ID, document_name="proekt.pdf")
    ]


async def test_announcements_refuse_a_malformed_file_id(db: Database) -> None:
    await officials(db, 11)
    async with db.session() as session:
        with pytest.raises(ValueError, match="file_id"):
            await announcements.create(
                session=session,
                text=SHORT,
                audience="all",
                now=START,
                today=START.date(),
                document_file_id="not one",
            )
    assert await outbox_rows(db) == []


@dataclass
class DocumentFails(FakeSender):
    """The text goes; the document part meets `errors` first, one per try."""

    errors: list[SendError] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> None:
        self.attempts += 1
        if message.has_document and self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)


async def long_with_document(db: Database) -> None:
    await officials(db, 11)
    async with db.session() as session:
        await enqueue(
            session=session,
            recipient=11,
            text=announcements.as_html(LONG),
            kind="announcement",
            dedupe_key="ann:1:to:11",
            not_before=START,
            buttons=[[{"text": "🔗 auc.org.ua", "url": "https://auc.org.ua"}]],
            document=Document(filename="proekt.pdf", file_id=FILE_ID),
        )
        await session.commit()


async def test_a_long_text_goes_first_then_the_document_a_second_later(db: Database) -> None:
    await long_with_document(db)
    sender, time = FakeSender(), FakeTime()
    await dispatcher(db, sender, ManualClock(KYIV, START), quiet="off", time=time).drain()
    text, document = sender.sent
    assert text.text == announcements.as_html(LONG) and text.buttons and not text.has_document
    assert document.document_file_id == FILE_ID and document.text == "" and not document.buttons
    assert sum(time.sleeps) >= 1.0  # Telegram's one message a second to one chat
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


@pytest.mark.parametrize(
    "error",
    [
        Rejected("Bad Request: wrong file identifier/HTTP URL specified"),
        Transient("connection refused"),
        RetryLater(120),
    ],
)
async def test_once_the_text_went_a_failed_document_never_repeats_it(
    db: Database, error: SendError
) -> None:
    await long_with_document(db)
    sender = DocumentFails(errors=[error])
    clock = ManualClock(KYIV, START)
    d = dispatcher(db, sender, clock, quiet="off")
    await d.drain()
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.FAILED
    assert (row.last_error or "").startswith("text delivered, document not sent")
    clock.advance(seconds=600)
    await d.drain()
    assert [m.has_document for m in sender.sent] == [False]  # the text once, nothing more


async def test_a_short_429_on_the_document_is_waited_out(db: Database) -> None:
    await long_with_document(db)
    sender, time = DocumentFails(errors=[RetryLater(3)]), FakeTime()
    await dispatcher(db, sender, ManualClock(KYIV, START), quiet="off", time=time).drain()
    assert [m.has_document for m in sender.sent] == [False, True]
    assert max(time.sleeps) >= 2.9
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.SENT


async def test_a_block_between_the_two_parts_blocks_the_person(db: Database) -> None:
    await long_with_document(db)
    sender = DocumentFails(errors=[Blocked("Forbidden: bot was blocked by the user")])
    await dispatcher(db, sender, ManualClock(KYIV, START), quiet="off").drain()
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.BLOCKED


async def test_when_the_text_fails_nothing_went_and_the_row_is_retried(db: Database) -> None:
    await long_with_document(db)
    sender = FakeSender(failures={11: [Transient("connection refused")]})
    clock = ManualClock(KYIV, START)
    d = dispatcher(db, sender, clock, quiet="off")
    await d.drain()
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.PENDING and sender.sent == []
    clock.advance(seconds=60)
    await d.drain()
    assert [m.has_document for m in sender.sent] == [False, True]
    [row] = await outbox_rows(db)
    assert row.status == OutboxStatus.SENT
