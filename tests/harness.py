"""Driving the real Application offline: a recording BaseRequest and update builders."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from telegram import Update

from bot.app import AppType, build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.context import Runtime
from bot.db import Database
from bot.i18n import Translator
from bot.notifications.dispatcher import Dispatcher
from bot.notifications.telegram_sender import TelegramSender
from bot.quiet_hours import QuietHours
from tests.recording import RecordingRequest

BOT_ID = RecordingRequest.BOT_ID
BOT_USERNAME = RecordingRequest.BOT_USERNAME
TOKEN = f"{BOT_ID}:TEST-token-never-sent"
ADMIN_ID = 900


@dataclass
class Harness:
    """The real Application wired to a recording request and a fixed clock."""

    app: AppType
    request: RecordingRequest
    runtime: Runtime
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    async def start(
        cls, db: Database, *, admin_ids: frozenset[int] = frozenset({ADMIN_ID})
    ) -> Harness:
        """Build and initialise the application."""
        settings = Settings(bot_token=TOKEN, admin_ids=admin_ids)  # type: ignore[arg-type]
        runtime = Runtime(
            settings=settings,
            db=db,
            translator=Translator(settings.tz),
            clock=FixedClock(settings.tz),
        )
        request = RecordingRequest()
        app = build_application(
            runtime,
            request=request,
            updates_request=request,
            publish_commands=False,
            notifications=False,  # tests drive the planner and dispatcher themselves
        )
        await app.initialize()
        await app.start()  # the JobQueue runs conversation timeouts; no updater is started
        request.reset()  # getMe from initialize() is not what tests look at
        return cls(app, request, runtime)

    async def dispatch(self) -> int:
        """Deliver what is due in the outbox through the app's bot (so the recording sees it)."""
        dispatcher = Dispatcher(
            db=self.runtime.db,
            sender=TelegramSender(self.app.bot),
            clock=self.runtime.clock,
            rate=1000.0,
            quiet=QuietHours.parse("off"),
            tz=self.runtime.settings.tz,
        )
        await dispatcher.start()
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.stop()

    async def stop(self) -> None:
        """Shut the application down."""
        await self.app.stop()
        await self.app.shutdown()

    def _user(self, user_id: int, lang: str | None, first_name: str) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if lang:
            user["language_code"] = lang
        return user

    async def feed(self, data: dict[str, Any]) -> None:
        """Process one raw update dict through the real Application."""
        data.setdefault("update_id", next(self._update_ids))
        await self.app.process_update(Update.de_json(data, self.app.bot))

    async def send(
        self,
        user_id: int,
        text: str,
        *,
        lang: str | None = "uk",
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Olena",
        edited: bool = False,
    ) -> None:
        """A person sends a text message."""
        message: dict[str, Any] = {
            "message_id": next(self._update_ids),
            "date": 1_700_000_000,
            "chat": {"id": chat_id or user_id, "type": chat_type},
            "from": self._user(user_id, lang, first_name),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        await self.feed({"edited_message" if edited else "message": message})

    async def press(
        self,
        user_id: int,
        data: str,
        *,
        lang: str | None = "uk",
        message_id: int = 1,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> None:
        """A person presses an inline button carrying `data`."""
        await self.feed(
            {
                "callback_query": {
                    "id": str(next(self._update_ids)),
                    "from": self._user(user_id, lang, "Olena"),
                    "chat_instance": "ci",
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": 1_700_000_000,
                        "chat": {"id": chat_id or user_id, "type": chat_type},
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "AMU"},
                        "text": "…",
                    },
                }
            }
        )

    async def send_attachment(
        self, user_id: int, attachment: dict[str, Any], *, lang: str | None = "uk"
    ) -> None:
        """A person sends a file, photo or sticker: `attachment` holds its Message fields."""
        message: dict[str, Any] = {
            "message_id": next(self._update_ids),
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private"},
            "from": self._user(user_id, lang, "Olena"),
            **attachment,
        }
        await self.feed({"message": message})
