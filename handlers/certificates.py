"""Certificates: the PDF in the holder's language, sending it, checking it by code."""

from __future__ import annotations

import logging
from typing import Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler

from bot.context import AppContext
from bot.i18n import Tr
from bot.services import certificate_pdf, certificates
from bot.services.certificates import CertificateView
from bot.services.event_admin import CertificateRenderer
from bot.services.outbox import Document, Rendered
from handlers.callback_data import ID, Callback
from handlers.common import answer, caller_of, esc, reply
from handlers.events_render import kind_name

log = logging.getLogger(__name__)

DOWNLOAD = Callback("my:c", (ID,))  # one's own certificate again, from /my


def dates(tr: Tr, view: CertificateView) -> str:
    """9–10 December 2025, or one date."""
    start = view.starts_at.astimezone(tr.tz).date()
    end = view.ends_at.astimezone(tr.tz).date()
    if start == end:
        return tr.date(start)
    return tr.t("cert.dates", start=tr.date(start), end=tr.date(end))


def certificate_text(tr: Tr, view: CertificateView, link: str) -> certificate_pdf.CertificateText:
    """Every line of the PDF in the reader's language."""
    return certificate_pdf.CertificateText(
        heading=tr.t("cert.heading"),
        number=tr.t("cert.number", number=view.number),
        certifies=tr.t("cert.certifies"),
        full_name=view.full_name,
        council=view.member_name(tr.lang),
        completed=tr.t("cert.completed"),
        title=f"«{view.title(tr.lang)}»" if tr.lang == "uk" else f"“{view.title(tr.lang)}”",
        details=tr.tn(
            "cert.details",
            "cert.details.plural",
            view.hours,
            kind=kind_name(tr, view.kind),
            dates=dates(tr, view),
        ),
        issued=tr.t("cert.issued", date=tr.date(view.issued_at.astimezone(tr.tz).date())),
        verify=tr.t("cert.verify", code=view.code),
        link=link,
        issuer=tr.t("cert.issuer"),
    )


async def bot_username(context: AppContext) -> str:
    """The bot's username as remembered in the database, else as Telegram told it."""
    async with context.db.session() as session:
        stored = await certificates.bot_username(session=session)
    return stored or context.bot.username


def certificate_for(context: AppContext, username: str) -> CertificateRenderer:
    """Renders a certificate for its holder: the caption and the PDF in their language."""

    def render(view: CertificateView, lang: str) -> tuple[Rendered, Document]:
        tr = context.runtime.translator(lang)
        link = certificates.verify_link(username, view.code)
        pdf = certificate_pdf.render(certificate_text(tr, view, link))
        caption = tr.t("cert.caption", title=esc(view.title(tr.lang)), code=view.code)
        return Rendered(caption), Document(filename=f"{view.number}.pdf", content=pdf)

    return render


async def send_certificate(
    context: AppContext, view: CertificateView, chat_id: int, lang: str
) -> None:
    """Render the certificate in `lang` and send it to the caller as a PDF document."""
    caption, document = certificate_for(context, await bot_username(context))(view, lang)
    await context.bot.send_document(
        chat_id,
        InputFile(document.content or b"", filename=document.filename),
        caption=caption.text,
    )


def verification(tr: Tr, view: CertificateView | None, code: str) -> str:
    """The answer to "is this certificate genuine?"."""
    if view is None:
        return tr.t("cert.unknown", code=esc(code[:20]))
    return tr.tn(
        "cert.valid",
        "cert.valid.plural",
        view.hours,
        number=esc(view.number),
        name=esc(view.full_name),
        council=esc(view.member_name(tr.lang)),
        title=esc(view.title(tr.lang)),
        dates=dates(tr, view),
        issued=tr.date(view.issued_at.astimezone(tr.tz).date()),
    )


async def verify(update: Update, context: AppContext, code: str) -> None:
    """/start verify-CODE: say whether the certificate exists and what it certifies."""
    async with context.db.session() as session:
        view = await certificates.by_code(session=session, code=code)
    await reply(update, verification(context.tr, view, code))


async def on_download(update: Update, context: AppContext) -> None:
    """Send one's own certificate again (from /my)."""
    (cert_id,) = DOWNLOAD.numbers(context.matches)
    caller = caller_of(context)
    tr = context.tr
    async with context.db.session() as session:
        view = await certificates.by_id(session=session, certificate_id=cert_id)
    mine = (
        view is not None
        and caller.link is not None
        and view.official_id == caller.link.official_id
    )
    if view is None or not (mine or caller.is_staff):
        await answer(update, tr.t("cert.not_yours"), alert=True)
        return
    await answer(update)
    chat = update.effective_chat
    if chat is not None:
        await send_certificate(context, view, chat.id, tr.lang)


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [DOWNLOAD.handler(on_download)]
