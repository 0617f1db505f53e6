"""python-telegram-bot handlers, one module per feature; registered here, in reading order."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, TypeHandler, filters

from bot.i18n import Translator
from handlers import (
    access,
    access_request,
    deadlines,
    dues,
    errors,
    fallback,
    help,
    settings,
    start,
)
from handlers.common import MENU_DUES, MENU_HELP, MENU_REQUEST, MENU_SETTINGS, label_pattern


def register(app: Application[Any, Any, Any, Any, Any, Any], translator: Translator) -> None:
    """Order matters: the gate first, features next, catch-alls last."""

    def label(msgid: str) -> filters.BaseFilter:
        return filters.Regex(label_pattern(translator, msgid))

    app.add_handler(TypeHandler(Update, access.identify_caller), group=-1)
    app.add_handlers(
        start.handlers()
        + access_request.handlers(label(MENU_REQUEST))  # the conversation first: it owns free text
        + dues.handlers(label(MENU_DUES))
        + settings.handlers(label(MENU_SETTINGS))
        + deadlines.handlers()
        + help.handlers(label(MENU_HELP))
        + fallback.handlers()  # must stay last
    )
    app.add_error_handler(errors.on_error)
