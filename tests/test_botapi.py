"""The bot's Bot API calls: JSON bodies, and replies that are not parsed back into objects."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import RetryAfter

from bot.botapi import JsonRequest
from bot.db import Database
from bot.notifications.sender import PROACTIVE
from tests.harness import Harness
from tests.test_handlers import KREMENCHUK, OLENA, link

TOKEN = "700000001:TEST-token-never-sent"
TEXT = "Кременчуцька міська рада: <b>248 530,00 ₴</b>"


class Telegram:
    """Answers like the Bot API and keeps each request it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method = request.url.path.rsplit("/", 1)[-1]
        if method == "getMe":
            result: object = {"id": 700000001, "is_bot": True, "first_name": "AMU"}
        elif method == "sendDocument":
            result = {"message_id": 2, "date": 0, "chat": {"id": 1, "type": "private"}}
        else:
            result = {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": "…",
            }
        return httpx.Response(200, json={"ok": True, "result": result})


async def _bot(telegram: Telegram) -> Bot:
    request = JsonRequest(httpx_kwargs={"transport": httpx.MockTransport(telegram)})
    bot = Bot(TOKEN, request=request, get_updates_request=request)
    await bot.initialize()
    return bot


async def test_calls_go_as_one_utf8_json_body() -> None:
    telegram = Telegram()
    bot = await _bot(telegram)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("2025", callback_data="dues:y:1:2025")]])
    sent = await bot.send_message(1, TEXT, parse_mode="HTML", reply_markup=markup)
    await bot.shutdown()
    assert isinstance(sent, Message)  # whoever asks for the sent message still gets it
    request = telegram.requests[-1]
    assert request.headers["content-type"] == "application/json"
    assert "Кременчуцька".encode() in request.content  # UTF-8, not \\u escapes
    body = json.loads(request.content)
    assert body["text"] == TEXT
    assert body["reply_markup"] == {
        "inline_keyboard": [[{"text": "2025", "callback_data": "dues:y:1:2025"}]]
    }
    form = httpx.Request("POST", "http://x", data={"text": json.dumps(TEXT)}).read()
    assert len(request.content) < len(form)  # and smaller than the form it replaces


async def test_uploads_stay_multipart() -> None:
    telegram = Telegram()
    bot = await _bot(telegram)
    await bot.send_document(1, document=b"a;b\n1;2\n", filename="report.csv")
    await bot.shutdown()
    assert telegram.requests[-1].headers["content-type"].startswith("multipart/form-data")


async def test_a_dues_reply_is_not_parsed_back_into_a_message(
    examples: Database, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await link(harness, examples, OLENA, KREMENCHUK)
    built: list[object] = []
    original = Message.de_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Message], data: object, bot: object = None) -> object:
        built.append(data)
        return original(cls, data, bot)

    monkeypatch.setattr(Message, "de_json", classmethod(counting))
    await harness.send(OLENA, "/dues")
    assert KREMENCHUK in harness.request.texts()[-1]
    # The incoming update's own message is parsed (by the test feeding it), nothing else.
    assert len(built) == 1


class FloodedTelegram(Telegram):
    """Answers the first `refusals` sendMessage calls with a 429 asking to wait `seconds`."""

    def __init__(self, refusals: int, seconds: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.seconds = seconds

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sendMessage") and self.refusals:
            self.refusals -= 1
            self.requests.append(request)
            return httpx.Response(
                429,
                json={
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.seconds}",
                    "parameters": {"retry_after": self.seconds},
                },
            )
        return super().__call__(request)


class Watcher:
    """What the dispatcher's pacer is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    async def reply_slot(self, chat_id: int | None) -> None:
        self.events.append(("reply", chat_id))

    def flood_wait(self, seconds: float) -> None:
        self.events.append(("flood", seconds))


async def _watched_bot(telegram: Telegram) -> tuple[Bot, Watcher]:
    bot = await _bot(telegram)
    watcher = Watcher()
    assert isinstance(bot.request, JsonRequest)
    bot.request.watch(watcher)
    return bot, watcher


async def test_a_reply_held_back_by_flood_control_waits_and_goes_once_more() -> None:
    telegram = FloodedTelegram(refusals=1, seconds=1)
    bot, watcher = await _watched_bot(telegram)
    sent = await bot.send_message(42, TEXT)  # a second late, but the person gets it
    await bot.shutdown()
    assert isinstance(sent, Message)
    assert [r.url.path.rsplit("/", 1)[-1] for r in telegram.requests] == [
        "getMe",
        "sendMessage",
        "sendMessage",
    ]
    assert watcher.events == [("reply", 42), ("flood", 1.0)]


async def test_a_reply_told_to_wait_long_fails_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns about the int form otherwise
    telegram = FloodedTelegram(refusals=1, seconds=30)
    bot, watcher = await _watched_bot(telegram)
    with pytest.raises(RetryAfter):
        await bot.send_message(42, TEXT)
    await bot.shutdown()
    assert watcher.events == [("reply", 42), ("flood", 30.0)]  # the dispatcher still pauses


async def test_the_dispatchers_own_sends_are_neither_reported_nor_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    telegram = FloodedTelegram(refusals=1, seconds=1)
    bot, watcher = await _watched_bot(telegram)

    async def proactive() -> None:
        PROACTIVE.set(True)
        await bot.send_message(42, TEXT)

    with pytest.raises(RetryAfter):  # the dispatcher's pacer handles its own 429s
        await asyncio.create_task(proactive())
    await bot.get_me()  # not a message: nothing to report
    await bot.shutdown()
    assert watcher.events == []
