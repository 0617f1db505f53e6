"""The gate every update passes first: who is calling, and is this a place to answer."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import AppContext
from bot.services import callers
from handlers.common import answer, reply


async def identify_caller(update: Update, context: AppContext) -> None:
    """Identify the sender; keep group chats and edits away from member data."""
    user = update.effective_user
    if update.edited_message is not None or user is None or user.is_bot:
        raise ApplicationHandlerStop  # edits, channel posts, other bots: nothing to do
    # The handler's session follows at once: it takes over this connection.
    async with context.db.session(keep_connection=True) as session:
        context.caller = await callers.identify(
            session=session,
            profile=callers.Profile(
                telegram_id=user.id,
                first_name=user.first_name or "",
                last_name=user.last_name,
                username=user.username,
                language_code=user.language_code,
            ),
            now=context.clock.now(),
            admin_ids=context.runtime.settings.admin_ids,
        )
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        # Dues are confidential: the bot talks about them only face to face.
        if update.callback_query is not None:
            await answer(update, context.tr.t("group.private_only"), alert=True)
        elif update.message is not None and _addressed_to_us(update.message.text, context):
            await reply(update, context.tr.t("group.private_only"))
        raise ApplicationHandlerStop


def _addressed_to_us(text: str | None, context: AppContext) -> bool:
    """A command in a group is ours when it is bare or names this bot (/dues@amu_bot)."""
    if not text or not text.startswith("/"):
        return False
    _, _, target = text.split(maxsplit=1)[0].partition("@")
    return not target or target.lower() == (context.bot.username or "").lower()
