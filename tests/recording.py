"""A recording python-telegram-bot request: the Bot API in-process, for handler tests."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from telegram.request import BaseRequest, RequestData


@dataclass
class RecordedCall:
    """One Bot API call an in-process application made."""

    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    """The fake Bot API in-process: a python-telegram-bot request that answers every call
    like Telegram would and remembers it (handler tests and benchmarks use it)."""

    BOT_ID = 700000001
    BOT_USERNAME = "amu_test_bot"

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
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
        if request_data is not None and request_data.contains_files:
            # Uploaded files: {field: (file name, bytes, MIME type)}.
            params["_files"] = dict(request_data.multipart_data)
        self.calls.append(RecordedCall(api, params))
        if api in self.fail:
            raise self.fail.pop(api)
        return 200, json.dumps({"ok": True, "result": self._result(api, params)}).encode()

    def _result(self, api: str, params: dict[str, Any]) -> Any:
        if api == "getMe":
            return {
                "id": self.BOT_ID,
                "is_bot": True,
                "first_name": "AMU",
                "username": self.BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if api == "sendDocument":
            chat_id = int(params.get("chat_id", 0))
            document: dict[str, Any]
            if "_files" in params:
                name, content, mime = next(iter(params["_files"].values()))
                document = {
                    "file_id": f"doc{len(self.calls)}",
                    "file_unique_id": f"u{len(self.calls)}",
                    "file_name": name,
                    "mime_type": mime,
                    "file_size": len(content),
                }
            else:  # re-sent by the file_id Telegram gave it: the same file
                file_id = str(params["document"])
                document = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
            return {
                "message_id": next(self._message_ids),
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": self.BOT_ID, "is_bot": True, "first_name": "AMU"},
                "document": document,
                **({"caption": params["caption"]} if params.get("caption") else {}),
            }
        if api in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            return {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": self.BOT_ID, "is_bot": True, "first_name": "AMU"},
                "text": params.get("text", ""),
            }
        return True

    # What tests look at
    def of(self, method: str) -> list[RecordedCall]:
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

    def buttons(self, call: RecordedCall | None = None) -> list[str]:
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
