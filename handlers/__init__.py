"""python-telegram-bot handlers, one module per feature; registered here, in reading order."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, TypeHandler, filters

from bot.i18n import Translator
from handlers import (
    access,
    access_request,
    announce,
    certificates,
    deadlines,
    dues,
    errors,
    events,
    events_admin,
    fallback,
    help,
    settings,
    start,
)
from handlers.common import (
    MENU,
    MENU_DUES,
    MENU_EVENTS,
    MENU_HELP,
    MENU_MY,
    MENU_REQUEST,
    MENU_SETTINGS,
    MENU_TRAININGS,
    label_pattern,
)


def register(app: Application[Any, Any, Any, Any, Any, Any], translator: Translator) -> None:
    """Order matters: the gate first, features next, catch-alls last."""

    def label(*msgids: str) -> filters.BaseFilter:
        return filters.Regex(label_pattern(translator, *msgids))

    app.add_handler(TypeHandler(Update, access.identify_caller), group=-1)
    app.add_handlers(
        start.handlers()
        # The conversation first: it owns free text (but never menu labels or commands).
        + access_request.handlers(label(MENU_REQUEST), label(*MENU))
        + dues.handlers(label(MENU_DUES))
        + events.handlers(label(MENU_EVENTS), label(MENU_TRAININGS), label(MENU_MY))
        + events_admin.handlers()
        + certificates.handlers()
        + settings.handlers(label(MENU_SETTINGS))
        + deadlines.handlers()
        + help.handlers(label(MENU_HELP))
        + announce.handlers()  # takes free text for a draft, else hands it to the fallback
        + fallback.handlers()  # must stay last
    )
    app.add_error_handler(errors.on_error)
