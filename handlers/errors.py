"""One error handler: log the traceback, apologise to the user, keep serving everyone else."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import AppContext
from bot.services import callers
from handlers.common import answer, reply

log = logging.getLogger(__name__)


async def _language(update: Update, context: AppContext) -> str:
    """The caller's language: the error's context has no caller, so look them up again."""
    user = update.effective_user
    code = user.language_code if user else None
    if user is None:
        return callers.pick_language(None, code)
    try:
        async with context.db.session() as session:
            return await callers.language_of(
                session=session, telegram_id=user.id, telegram_code=code
            )
    except Exception:  # the failure may be the database itself: Telegram's language will do
        log.debug("no language for %s from the database", user.id, exc_info=True)
        return callers.pick_language(None, code)


async def on_error(update: object, context: AppContext) -> None:
    """Log what failed; tell the person, if there is one, that something went wrong."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    tr = context.runtime.translator(await _language(update, context))
    try:
        if update.callback_query is not None:
            await answer(update, tr.t("error.generic"), alert=True)
        else:
            await reply(update, tr.t("error.generic"))
    except TelegramError:
        log.warning("could not tell chat %s about the failure", update.effective_chat.id)
    # Later handler groups must not run on an update that failed (the gate, say): one apology.
    raise ApplicationHandlerStop
