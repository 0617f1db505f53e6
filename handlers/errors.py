"""One error handler: log the traceback, apologise to the user, keep serving everyone else."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import AppContext
from handlers.common import answer, reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: AppContext) -> None:
    """Log what failed; tell the person, if there is one, that something went wrong."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        if update.callback_query is not None:
            await answer(update, context.tr.t("error.generic"), alert=True)
        else:
            await reply(update, context.tr.t("error.generic"))
    except TelegramError:
        log.warning("could not tell chat %s about the failure", update.effective_chat.id)
