"""Driving the real Application offline: a recording BaseRequest and update builders."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.app import AppType, build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.context import Runtime
from bot.db import Database
from bot.i18n import Translator

BOT_ID = 700000001
BOT_USERNAME = "amu_test_bot"
TOKEN = f"{BOT_ID}:TEST-token-never-sent"
ADMIN_ID = 900


@dataclass
class Call:
    """One Bot API call the application made."""

    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    """Answers every Bot API call like Telegram would, and remembers it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._message_ids = itertools.count(1000)
        self.fail: dict[str, Exception] = {}

    @property
    def read_timeout(self) -> float:
        """How long a call may take (irrelevant offline)."""
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(  # type: ignore[override]
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        """Record the call and answer with a plausible result."""
        api = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = {}
        for key, value in (request_data.parameters if request_data else {}).items():
            params[key] = value
        self.calls.append(Call(api, params))
        if api in self.fail:
            raise self.fail.pop(api)
        return 200, json.dumps({"ok": True, "result": self._result(api, params)}).encode()

    def _result(self, api: str, params: dict[str, Any]) -> Any:
        if api == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "AMU",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if api in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            return {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "AMU"},
                "text": params.get("text", ""),
            }
        return True

    # What tests look at
    def of(self, method: str) -> list[Call]:
        """Calls of one Bot API method."""
        return [c for c in self.calls if c.method == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts sent or edited, in order (optionally to one chat)."""
        return [
            c.params["text"]
            for c in self.calls
            if c.method in ("sendMessage", "editMessageText")
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]

    def answers(self) -> list[str | None]:
        """Texts of answerCallbackQuery calls."""
        return [c.params.get("text") for c in self.of("answerCallbackQuery")]

    def buttons(self, call: Call | None = None) -> list[str]:
        """Callback data of the inline buttons on a call (default: the last message sent)."""
        if call is None:
            sent = [c for c in self.calls if c.method in ("sendMessage", "editMessageText")]
            call = sent[-1]
        markup = call.params.get("reply_markup")
        if not markup:
            return []
        data = json.loads(markup) if isinstance(markup, str) else markup
        return [
            b["callback_data"]
            for row in data.get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]

    def reset(self) -> None:
        """Forget what was recorded."""
        self.calls.clear()


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
            runtime, request=request, updates_request=request, publish_commands=False
        )
        await app.initialize()
        await app.start()  # the JobQueue runs conversation timeouts; no updater is started
        request.reset()  # getMe from initialize() is not what tests look at
        return cls(app, request, runtime)

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
