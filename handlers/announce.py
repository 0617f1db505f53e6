"""/admin → 📣 Announce: text, optional link button and/or document, audience, now or later,
preview, confirm, report.

The draft lives in the database (`announce_drafts`), so any worker can take the next step.
Staff address anyone; a coordinator only their own region.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.clock import parse_moment
from bot.context import AppContext
from bot.i18n import N_, Tr
from bot.notifications.sender import OutgoingMessage
from bot.notifications.telegram_sender import TelegramSender
from bot.regions import region_name
from bot.services import announce_drafts as drafts
from bot.services import announcements, audiences, callers
from bot.services.announce_drafts import MAX_DOCUMENT_BYTES, Author, DraftError, Step
from bot.text import ukrainian_sort_key
from handlers import fallback
from handlers.callback_data import CHOICE, ID, Callback
from handlers.common import answer, caller_of, esc, inline, reply, show

START = Callback("ann:go")
SKIP_LINK = Callback("ann:nolink")  # no (more) link or document: on to the audience
AUDIENCE = Callback("ann:a", (CHOICE,))  # AUDIENCES[n]
REGION = Callback("ann:r", (CHOICE,))  # the n-th region, in order
SECTION = Callback("ann:s", (ID,))
EVENT = Callback("ann:e", (ID,))
NOW = Callback("ann:now")
LATER = Callback("ann:at")
SEND = Callback("ann:ok")
CANCEL = Callback("ann:x")
STATUS = Callback("ann:st", (ID,))  # refresh the delivery report

ALL, BY_REGION, BY_SECTION, BY_EVENT, OVERDUE = range(5)
AUDIENCE_LABELS = (
    N_("announce.btn.all"),
    N_("announce.btn.region"),
    N_("announce.btn.section"),
    N_("announce.btn.event"),
    N_("announce.btn.overdue"),
)
ERRORS = {
    "no_draft": N_("announce.stale"),
    "wrong_step": N_("announce.stale"),
    "empty": N_("announce.empty"),
    "too_long": N_("announce.too_long"),
    "bad_link": N_("announce.bad_link"),
    "bad_document": N_("announce.bad_document"),
    "too_big": N_("announce.too_big"),
    "bad_audience": N_("announce.bad_audience"),
    "forbidden_audience": N_("announce.forbidden"),
    "past": N_("announce.past"),
}


def _author(context: AppContext) -> Author | None:
    caller = caller_of(context)
    match callers.scope(caller):
        case callers.Scope.ALL:
            return Author(caller.telegram_id)
        case callers.Scope.REGION if caller.link is not None:
            return Author(caller.telegram_id, region=caller.link.region)
    return None


def _cancel_row(tr: Tr) -> list[tuple[str, str]]:
    return [(tr.t("announce.btn.cancel"), CANCEL.build())]


def _attach_markup(tr: Tr, draft: Any) -> InlineKeyboardMarkup:
    """«Without attachments», or «Next» once something is attached; and cancel."""
    attached = draft.link_url is not None or draft.document_file_id is not None
    label = N_("announce.btn.next") if attached else N_("announce.btn.no_link")
    return inline([[(tr.t(label), SKIP_LINK.build())], _cancel_row(tr)])


def _ask_attachments(tr: Tr) -> str:
    return tr.t("announce.ask_link", mb=MAX_DOCUMENT_BYTES // (1024 * 1024))


async def _fail(update: Update, context: AppContext, exc: DraftError) -> None:
    text = context.tr.t(ERRORS.get(exc.reason, N_("announce.stale")))
    if update.callback_query is not None:
        await answer(update, text, alert=True)
    else:
        await reply(update, text)


async def _refuse(update: Update, context: AppContext) -> None:
    if update.callback_query is not None:
        await answer(update, context.tr.t("admin.only_staff"), alert=True)
    else:
        await reply(update, context.tr.t("admin.only_staff"))


async def begin(update: Update, context: AppContext) -> None:
    """/announce, or the button on /admin: a new draft, asking for the text."""
    author = _author(context)
    if author is None:
        await _refuse(update, context)
        return
    await answer(update)
    async with context.db.session() as session:
        await drafts.start(session=session, author=author, now=context.clock.now())
    tr = context.tr
    await reply(update, tr.t("announce.ask_text"), inline([_cancel_row(tr)]))


async def _ask_audience(update: Update, context: AppContext, author: Author) -> None:
    tr = context.tr
    if author.region is not None:
        async with context.db.session() as session:
            regions = await drafts.regions(session=session)
        mine = region_name(tr, author.region)
        rows = [
            [(tr.t("announce.btn.my_region", region=mine), REGION.build(n))]
            for n, name in enumerate(regions)
            if name == author.region and n < 100
        ]
    else:
        rows = [[(tr.t(label), AUDIENCE.build(n))] for n, label in enumerate(AUDIENCE_LABELS)]
    await reply(update, tr.t("announce.ask_audience"), inline([*rows, _cancel_row(tr)]))


async def _ask_when(update: Update, context: AppContext) -> None:
    tr = context.tr
    rows = [
        [(tr.t("announce.btn.now"), NOW.build()), (tr.t("announce.btn.later"), LATER.build())],
        _cancel_row(tr),
    ]
    await show(update, tr.t("announce.ask_when"), inline(rows))


def _describe(tr: Tr, audience: str) -> str:
    parsed = audiences.parse(audience)
    msgid = {
        "all": N_("announce.aud.all"),
        "region": N_("announce.aud.region"),
        "section": N_("announce.aud.section"),
        "event": N_("announce.aud.event"),
        "overdue": N_("announce.aud.overdue"),
    }[parsed.kind]
    name = region_name(tr, parsed.argument) if parsed.kind == "region" else parsed.argument
    return tr.t(msgid, name=esc(name))


async def _preview(update: Update, context: AppContext, author: Author) -> None:
    """The announcement exactly as recipients will see it, then who and when, and confirm.

    It goes out through the dispatcher's own sender, split the way the dispatcher splits it
    (a text too long for a caption, then the document), so what staff see is what is sent.
    """
    tr = context.tr
    chat = update.effective_chat
    async with context.db.session() as session:
        draft = await drafts.current(session=session, author=author)
        if draft is None or draft.audience is None or chat is None:
            raise DraftError("no_draft")
        count = await drafts.reach(session=session, draft=draft, today=context.clock.today())
    message = OutgoingMessage(
        chat_id=chat.id,
        text=announcements.as_html(draft.text),
        buttons=announcements.link_buttons(draft.link_url),
        document_file_id=draft.document_file_id,
        document_name=draft.document_name,
    )
    sender = TelegramSender(update.get_bot())
    for part in message.parts():
        await sender.send(part)
    when = (
        tr.t("announce.when_now")
        if draft.send_at is None
        else tr.t("announce.when_at", at=tr.datetime(draft.send_at))
    )
    rows = [[(tr.t("announce.btn.send"), SEND.build())], _cancel_row(tr)]
    await reply(
        update,
        tr.t(
            "announce.summary",
            audience=_describe(tr, draft.audience),
            count=tr.number(count),
            when=when,
        ),
        inline(rows),
    )


async def _after_attachment(
    update: Update, context: AppContext, author: Author, draft: Any, added: str
) -> None:
    """Say what was attached; ask for the other kind, or, with both, for the audience."""
    tr = context.tr
    lines = [added]
    if draft.document_file_id is not None and not drafts.caption_fits(draft):
        lines.append(tr.t("announce.document_separate"))
    if draft.step == Step.AUDIENCE:
        await reply(update, "\n\n".join(lines))
        await _ask_audience(update, context, author)
        return
    ask = (
        N_("announce.add_document") if draft.document_file_id is None else N_("announce.add_link")
    )
    lines.append(tr.t(ask))
    await reply(update, "\n\n".join(lines), _attach_markup(tr, draft))


async def on_text(update: Update, context: AppContext) -> None:
    """Free text: the next field of a draft being composed; anything else is the fallback's."""
    author = _author(context)
    message = update.effective_message
    if author is None or message is None or message.text is None:
        await fallback.unknown_message(update, context)
        return
    async with context.db.session() as session:
        draft = await drafts.current(session=session, author=author)
    if draft is None or draft.step not in (Step.TEXT, Step.LINK, Step.TIME):
        await fallback.unknown_message(update, context)
        return
    tr, now = context.tr, context.clock.now()
    try:
        async with context.db.session() as session:
            if draft.step == Step.TEXT:
                # What Telegram shows as bold or links is sent as the author typed it.
                await drafts.set_text(session=session, author=author, text=message.text, now=now)
                await reply(update, _ask_attachments(tr), _attach_markup(tr, draft))
                return
            if draft.step == Step.LINK:
                had_link = draft.link_url is not None
                draft = await drafts.set_link(
                    session=session, author=author, url=message.text, now=now
                )
                added = tr.t(
                    N_("announce.link_replaced") if had_link else N_("announce.link_added")
                )
                await _after_attachment(update, context, author, draft, added)
                return
            try:
                at = parse_moment(message.text, context.runtime.settings.tz)
            except ValueError:
                await reply(update, tr.t("announce.bad_time"))
                return
            await drafts.set_time(session=session, author=author, at=at, now=now)
        await _preview(update, context, author)
    except DraftError as exc:
        await _fail(update, context, exc)


async def _step(update: Update, context: AppContext) -> Author | None:
    author = _author(context)
    if author is None:
        await _refuse(update, context)
        return None
    return author


async def on_attachment(update: Update, context: AppContext) -> None:
    """A file sent while a draft waits for its attachments: the document recipients get.

    Only documents: a photo or anything else gets an answer saying so and changes nothing.
    Any other time (no draft, another step, not staff) it is the fallback's.
    """
    author = _author(context)
    message = update.effective_message
    if author is None or message is None:
        await fallback.unknown_message(update, context)
        return
    async with context.db.session() as session:
        draft = await drafts.current(session=session, author=author)
    if draft is None or draft.step != Step.LINK:
        await fallback.unknown_message(update, context)
        return
    tr, document = context.tr, message.document
    if document is None:
        refusal = N_("announce.photo") if message.photo else N_("announce.not_a_document")
        await reply(update, tr.t(refusal), _attach_markup(tr, draft))
        return
    had_document = draft.document_file_id is not None
    try:
        async with context.db.session() as session:
            draft = await drafts.set_document(
                session=session,
                author=author,
                file_id=document.file_id,
                name=document.file_name,
                size=document.file_size,
                now=context.clock.now(),
            )
    except DraftError as exc:
        if exc.reason in ("no_draft", "wrong_step"):
            await _fail(update, context, exc)
            return
        text = tr.t(ERRORS[exc.reason], mb=MAX_DOCUMENT_BYTES // (1024 * 1024))
        await reply(update, text, _attach_markup(tr, draft))
        return
    msgid = N_("announce.document_replaced") if had_document else N_("announce.document_added")
    name = esc(draft.document_name or "")
    await _after_attachment(update, context, author, draft, tr.t(msgid, name=name))


async def on_skip_link(update: Update, context: AppContext) -> None:
    """No (more) link or document."""
    if (author := await _step(update, context)) is None:
        return
    try:
        async with context.db.session() as session:
            await drafts.attachments_done(session=session, author=author, now=context.clock.now())
    except DraftError as exc:
        await _fail(update, context, exc)
        return
    await answer(update)
    await _ask_audience(update, context, author)


async def _choose(update: Update, context: AppContext, author: Author, audience: str) -> None:
    try:
        async with context.db.session() as session:
            await drafts.set_audience(
                session=session, author=author, audience=audience, now=context.clock.now()
            )
    except DraftError as exc:
        await _fail(update, context, exc)
        return
    await answer(update)
    await _ask_when(update, context)


async def on_audience(update: Update, context: AppContext) -> None:
    """Everyone or the overdue councils at once; a region, section or event from a list."""
    if (author := await _step(update, context)) is None:
        return
    (n,) = AUDIENCE.numbers(context.matches)
    if author.region is not None and n != BY_REGION:
        await _fail(update, context, DraftError("forbidden_audience"))
        return
    if n in (ALL, OVERDUE):
        await _choose(update, context, author, "all" if n == ALL else "overdue")
        return
    tr = context.tr
    async with context.db.session() as session:
        draft = await drafts.current(session=session, author=author)
        if draft is None or draft.step != Step.AUDIENCE:
            await _fail(update, context, DraftError("wrong_step"))
            return
        rows: list[list[tuple[str, str]]]
        if n == BY_REGION:
            names = await drafts.regions(session=session)
            labelled = sorted(  # in the reader's language and alphabetical order
                ((region_name(tr, name), i) for i, name in enumerate(names[:100])),
                key=lambda pair: ukrainian_sort_key(pair[0]),
            )
            rows = [[(label, REGION.build(i))] for label, i in labelled]
        elif n == BY_SECTION:
            sections = await drafts.section_choices(session=session)
            named = sorted(
                ((tr.name(s.name_uk, s.name_en), s.id) for s in sections),
                key=lambda pair: ukrainian_sort_key(pair[0]),
            )
            rows = [[(name[:60], SECTION.build(section_id))] for name, section_id in named]
        elif n == BY_EVENT:
            events = await drafts.event_choices(session=session, now=context.clock.now())
            rows = [[(tr.name(e.name_uk, e.name_en)[:60], EVENT.build(e.id))] for e in events]
        else:
            await _fail(update, context, DraftError("bad_audience"))
            return
    await answer(update)
    if not rows:
        await show(update, tr.t("announce.nothing_to_choose"), inline([_cancel_row(tr)]))
        return
    await show(update, tr.t("announce.ask_audience"), inline([*rows, _cancel_row(tr)]))


async def on_region(update: Update, context: AppContext) -> None:
    """A region, by its place in the ordered list."""
    if (author := await _step(update, context)) is None:
        return
    (n,) = REGION.numbers(context.matches)
    async with context.db.session() as session:
        names = await drafts.regions(session=session)
    if n >= len(names):
        await _fail(update, context, DraftError("bad_audience"))
        return
    await _choose(update, context, author, f"region:{names[n]}")


async def on_section(update: Update, context: AppContext) -> None:
    """A section's subscribers."""
    if (author := await _step(update, context)) is None:
        return
    (section_id,) = SECTION.numbers(context.matches)
    async with context.db.session() as session:
        code = await drafts.section_code(session=session, section_id=section_id)
    if code is None:
        await _fail(update, context, DraftError("bad_audience"))
        return
    await _choose(update, context, author, f"section:{code}")


async def on_event(update: Update, context: AppContext) -> None:
    """An event's registrants and waiting list."""
    if (author := await _step(update, context)) is None:
        return
    (event_id,) = EVENT.numbers(context.matches)
    async with context.db.session() as session:
        code = await drafts.event_code(session=session, event_id=event_id)
    if code is None:
        await _fail(update, context, DraftError("bad_audience"))
        return
    await _choose(update, context, author, f"event:{code}")


async def on_now(update: Update, context: AppContext) -> None:
    """Send right after confirmation."""
    if (author := await _step(update, context)) is None:
        return
    try:
        async with context.db.session() as session:
            await drafts.send_now(session=session, author=author, now=context.clock.now())
        await answer(update)
        await _preview(update, context, author)
    except DraftError as exc:
        await _fail(update, context, exc)


async def on_later(update: Update, context: AppContext) -> None:
    """Ask for the time."""
    if (author := await _step(update, context)) is None:
        return
    try:
        async with context.db.session() as session:
            await drafts.ask_time(session=session, author=author, now=context.clock.now())
    except DraftError as exc:
        await _fail(update, context, exc)
        return
    await answer(update)
    tr = context.tr
    await show(update, tr.t("announce.ask_time"), inline([_cancel_row(tr)]))


async def _report(update: Update, context: AppContext, announcement_id: int) -> None:
    tr = context.tr
    async with context.db.session() as session:
        item, report = await announcements.status(session=session, announcement_id=announcement_id)
    if item.expanded_at is None:
        async with context.db.session() as session:
            count = await audiences.count(
                session=session,
                audience=audiences.parse(item.audience),
                today=context.clock.today(),
            )
        text = tr.t(
            "announce.report_scheduled",
            id=item.id,
            at=tr.datetime(item.send_at),
            count=tr.number(count),
        )
    else:
        text = tr.t(
            "announce.report",
            id=item.id,
            audience=_describe(tr, item.audience),
            delivered=tr.number(report.delivered),
            blocked=tr.number(report.blocked),
            failed=tr.number(report.failed + report.dropped),
            waiting=tr.number(report.waiting),
            pending=tr.number(report.pending),
            total=tr.number(report.total),
        )
    if item.document_name is not None:
        text += "\n" + tr.t("announce.report_document", name=esc(item.document_name))
    rows = [[(tr.t("announce.btn.refresh"), STATUS.build(announcement_id))]]
    await show(update, text, inline(rows))


async def on_send(update: Update, context: AppContext) -> None:
    """Confirmed: the announcement is created (and queued, when it is due now)."""
    if (author := await _step(update, context)) is None:
        return
    try:
        async with context.db.session() as session:
            item = await drafts.confirm(
                session=session,
                author=author,
                now=context.clock.now(),
                today=context.clock.today(),
            )
    except DraftError as exc:
        await _fail(update, context, exc)
        return
    await answer(update, context.tr.t("announce.sent"))
    await _report(update, context, item.id or 0)


async def on_status(update: Update, context: AppContext) -> None:
    """Refresh the delivery report."""
    if (author := await _step(update, context)) is None:
        return
    (announcement_id,) = STATUS.numbers(context.matches)
    async with context.db.session() as session:
        try:
            item, _ = await announcements.status(session=session, announcement_id=announcement_id)
        except announcements.AnnouncementNotFound:
            item = None
    if item is None or (author.region is not None and item.audience != f"region:{author.region}"):
        await answer(update, context.tr.t("announce.unknown"), alert=True)
        return
    await answer(update)
    await _report(update, context, announcement_id)


async def on_cancel(update: Update, context: AppContext) -> None:
    """Forget the draft."""
    if (author := await _step(update, context)) is None:
        return
    async with context.db.session() as session:
        await drafts.cancel(session=session, author=author)
    await answer(update)
    await show(update, context.tr.t("announce.cancelled"))


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature; `on_text` takes free text and `on_attachment` files and
    photos, so register them just before the catch-alls (they hand over to them when there
    is no draft at that step)."""
    message = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    return [
        CommandHandler("announce", begin, filters=message),
        START.handler(begin),
        SKIP_LINK.handler(on_skip_link),
        AUDIENCE.handler(on_audience),
        REGION.handler(on_region),
        SECTION.handler(on_section),
        EVENT.handler(on_event),
        NOW.handler(on_now),
        LATER.handler(on_later),
        SEND.handler(on_send),
        CANCEL.handler(on_cancel),
        STATUS.handler(on_status),
        MessageHandler(message & filters.TEXT & ~filters.COMMAND, on_text),
        MessageHandler(message & filters.ATTACHMENT, on_attachment),
    ]
