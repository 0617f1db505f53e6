"""Pieces every feature uses: the menu keyboard, button labels, safe replies."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest

from bot import botapi
from bot.context import AppContext
from bot.i18n import N_, Tr, Translator
from bot.services.callers import Caller
from locales import LANGUAGES

log = logging.getLogger(__name__)

MENU_DUES = N_("menu.dues")
MENU_HELP = N_("menu.help")
MENU_SETTINGS = N_("menu.settings")
MENU_REQUEST = N_("menu.request_access")
MENU_EVENTS = N_("menu.events")
MENU_TRAININGS = N_("menu.trainings")
MENU_MY = N_("menu.my")
LANGUAGE_NAMES = {"uk": N_("lang.uk"), "en": N_("lang.en")}
MAX_MESSAGE = 4096  # Telegram's limit for one message text
MENU = (MENU_DUES, MENU_HELP, MENU_SETTINGS, MENU_REQUEST, MENU_EVENTS, MENU_TRAININGS, MENU_MY)


def esc(text: str) -> str:
    """Escape text from people or the database for HTML parse mode."""
    return html.escape(text, quote=False)


def menu(tr: Tr, caller: Caller | bool | None) -> ReplyKeyboardMarkup:
    """The persistent menu: dues for linked people (or `True`), an access request for strangers."""
    # Staff see dues too (of any council, by code), so they get the dues button.
    linked = (
        caller if isinstance(caller, bool) else bool(caller and (caller.link or caller.is_staff))
    )
    first = tr.t(MENU_DUES) if linked else tr.t(MENU_REQUEST)
    programme = [KeyboardButton(tr.t(MENU_EVENTS)), KeyboardButton(tr.t(MENU_TRAININGS))]
    if linked:
        programme.append(KeyboardButton(tr.t(MENU_MY)))
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(first)],
            programme,
            [KeyboardButton(tr.t(MENU_HELP)), KeyboardButton(tr.t(MENU_SETTINGS))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def label_pattern(translator: Translator, *msgids: str) -> re.Pattern[str]:
    """Match menu labels in any language: a keyboard may outlive a language switch."""
    labels = {translator(lang).t(msgid) for lang in LANGUAGES for msgid in msgids}
    return re.compile("^(" + "|".join(re.escape(label) for label in sorted(labels)) + ")$")


def inline(rows: Iterable[Iterable[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def as_json(markup: InlineKeyboardMarkup | ReplyKeyboardMarkup) -> list[list[dict[str, Any]]]:
    """Buttons as Telegram's JSON, for an outbox row (services never see telegram objects)."""
    data = markup.to_dict()
    rows = (
        data["inline_keyboard"] if isinstance(markup, InlineKeyboardMarkup) else data["keyboard"]
    )
    return [[dict(button) for button in row] for row in rows]


def clip(text: str) -> str:
    """Keep a message within Telegram's limit, cutting at a line break."""
    if len(text) <= MAX_MESSAGE:
        return text
    cut = text.rfind("\n", 0, MAX_MESSAGE - 2)
    return text[: cut if cut > 0 else MAX_MESSAGE - 2] + "\n…"


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
) -> None:
    """Answer in the update's chat (HTML without link previews: the application's defaults)."""
    chat = update.effective_chat
    if chat is None:
        return
    await botapi.send_html(update.get_bot(), chat.id, clip(text), markup)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the message a button was pressed on, or send a new one for a command."""
    query = update.callback_query
    if query is None or query.message is None or not hasattr(query.message, "edit_text"):
        await reply(update, text, markup)
        return
    try:
        await botapi.edit_html(
            update.get_bot(), query.message.chat.id, query.message.message_id, clip(text), markup
        )
    except BadRequest as exc:
        # Pressing the same page twice changes nothing; Telegram says so as an error.
        if "not modified" not in exc.message.lower():
            raise


async def answer(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Stop the button's spinner, optionally with a short notice."""
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=alert)


def caller_of(context: AppContext) -> Caller:
    """The caller the gate identified (every private update has one)."""
    if context.caller is None:
        raise RuntimeError("the access gate did not run for this update")
    return context.caller
