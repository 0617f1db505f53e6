"""/settings: the language the bot speaks (subscriptions and quiet hours will join it)."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from telegram import BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import AppContext
from bot.services import callers
from handlers.callback_data import LANGUAGE, Callback
from handlers.commands import commands_for
from handlers.common import LANGUAGE_NAMES, answer, caller_of, inline, menu, reply, show
from locales import LANGUAGES

CHOOSE_LANGUAGE = Callback("set:lang", (LANGUAGE,))


def _language_keyboard(context: AppContext) -> list[list[tuple[str, str]]]:
    tr = context.tr
    return [
        [
            (
                ("✓ " if lang == tr.lang else "") + tr.t(LANGUAGE_NAMES[lang]),
                CHOOSE_LANGUAGE.build(lang),
            )
            for lang in LANGUAGES
        ]
    ]


async def show_settings(update: Update, context: AppContext) -> None:
    """Show the current settings with buttons to change them."""
    tr = context.tr
    await reply(
        update,
        tr.t("settings.title", language=tr.t(LANGUAGE_NAMES[tr.lang])),
        inline(_language_keyboard(context)),
    )


async def on_language(update: Update, context: AppContext) -> None:
    """Switch the language, and the menu and command list with it."""
    (lang,) = CHOOSE_LANGUAGE.parse(context.matches)
    caller = caller_of(context)
    async with context.db.session() as session:
        await callers.set_language(session=session, telegram_id=caller.telegram_id, language=lang)
    context.caller = dataclasses.replace(caller, language=lang)
    tr = context.tr
    await answer(update, tr.t("settings.saved"))
    await show(
        update,
        tr.t("settings.title", language=tr.t(LANGUAGE_NAMES[lang])),
        inline(_language_keyboard(context)),
    )
    # A reply keyboard cannot be edited, only replaced by a new message.
    await reply(update, tr.t("settings.language_set"), menu(tr, context.caller))
    # The menu of commands is a convenience; the answer above already went out.
    with contextlib.suppress(TelegramError):
        await context.bot.set_my_commands(
            commands_for(tr), scope=BotCommandScopeChat(caller.telegram_id)
        )


def handlers(menu_label: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [
        CommandHandler("settings", show_settings, filters=filters.UpdateType.MESSAGE),
        MessageHandler(filters.UpdateType.MESSAGE & menu_label, show_settings),
        CHOOSE_LANGUAGE.handler(on_language),
    ]
