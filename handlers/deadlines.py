"""/deadlines: the open deadlines that concern the caller, soonest first."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services import deadlines
from handlers.common import caller_of, esc, reply

MAX_SHOWN = 20


async def show_deadlines(update: Update, context: AppContext) -> None:
    """List open deadlines: everyone's, the caller's region's, or all of them for staff."""
    caller = caller_of(context)
    tr = context.tr
    async with context.db.session() as session:
        items = await deadlines.open_deadlines(
            session=session,
            now=context.clock.now(),
            region=caller.link.region if caller.link else None,
            everything=caller.is_staff,
        )
    if not items:
        await reply(update, tr.t("deadlines.none"))
        return
    lines = [tr.t("deadlines.title")]
    for item in items[:MAX_SHOWN]:
        description = item.description(tr.lang)
        lines.append(
            tr.t(
                "deadlines.item",
                title=esc(item.title(tr.lang)),
                due=tr.datetime(item.due_at),
                description=f"\n{esc(description)}" if description else "",
            )
        )
    if len(items) > MAX_SHOWN:
        lines.append(tr.tn("deadlines.more", "deadlines.more.plural", len(items) - MAX_SHOWN))
    await reply(update, "\n\n".join(lines))


def handlers() -> list[BaseHandler[Update, AppContext, Any]]:
    """The handlers of this feature."""
    return [CommandHandler("deadlines", show_deadlines, filters=filters.UpdateType.MESSAGE)]
