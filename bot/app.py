"""Assembling the python-telegram-bot Application from the runtime."""

from __future__ import annotations

from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

import handlers
from bot import botapi
from bot.clock import Clock
from bot.config import Settings
from bot.context import AppContext, Runtime, UserData
from bot.db import Database
from bot.i18n import Translator
from bot.services import botstate
from bot.updates import PerUserUpdateProcessor
from handlers.commands import publish

# Updates of different people in flight at once; each person's own stay in order.
CONCURRENT_UPDATES = 32

AppType = Application[Any, AppContext, UserData, Any, Any, Any]


class AmuApplication(Application[Any, AppContext, Any, Any, Any, Any]):
    """The Application, with one database connection per update (see Database.update_scope)."""

    __slots__ = ()

    async def process_update(self, update: object) -> None:
        """Process the update with every session of it on one connection."""
        runtime: Runtime = self.bot_data["runtime"]
        async with runtime.db.update_scope():
            await super().process_update(update)


def build_runtime(settings: Settings, db: Database | None = None) -> Runtime:
    """The runtime of a process: database, translations and clock from the settings."""
    return Runtime(
        settings=settings,
        db=db or Database.from_url(settings.database_url),
        translator=Translator(settings.tz),
        clock=Clock(settings.tz),
    )


def build_application(
    runtime: Runtime,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    publish_commands: bool = True,
    notifications: bool = True,
) -> AppType:
    """The Application with every handler registered; `request` lets tests record calls.

    By default the Bot API is called with JSON bodies (`bot.botapi.JsonRequest`).
    """
    builder = (
        ApplicationBuilder()
        .application_class(AmuApplication)
        .token(runtime.settings.token())
        .base_url(runtime.settings.bot_api_url)
        .base_file_url(runtime.settings.bot_api_url.removesuffix("/bot") + "/file/bot")
        .context_types(ContextTypes(context=AppContext, user_data=UserData))
        .defaults(
            Defaults(
                tzinfo=runtime.settings.tz,
                parse_mode=ParseMode.HTML,  # every text is HTML; user input goes through esc()
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .concurrent_updates(PerUserUpdateProcessor(CONCURRENT_UPDATES))
        .post_shutdown(lambda _app: runtime.db.dispose())  # the last thing the bot does
    )
    default_request, default_updates_request = botapi.requests()
    builder = builder.request(request or default_request).get_updates_request(
        updates_request or default_updates_request
    )

    async def post_init(app: AppType) -> None:
        # getMe has answered by now: remember the username, so `amu-bot invite` works offline.
        async with runtime.db.session() as session:
            await botstate.remember_username(
                session=session, username=app.bot.username, now=runtime.clock.now()
            )
        if publish_commands:
            await publish(app, runtime.translator)

    builder = builder.post_init(post_init)
    app: AppType = builder.build()
    app.bot_data["runtime"] = runtime
    handlers.register(app, runtime.translator)
    if notifications:
        # The planner and the outbox dispatcher run on the Application's JobQueue.
        from bot.notifications.jobs import schedule

        schedule(app, runtime)
    return app
