"""The python-telegram-bot Sender turns Bot API failures into what the dispatcher acts on."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.notifications.sender import (
    Blocked,
    OutcomeUnknown,
    OutgoingMessage,
    Rejected,
    RetryLater,
    SendError,
    Transient,
)
from bot.notifications.telegram_sender import TelegramSender
from tests.harness import TOKEN
from tests.recording import RecordingRequest


def flood(seconds: int) -> RetryAfter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return RetryAfter(seconds)


def timed_out(cause: Exception) -> TimedOut:
    try:
        raise TimedOut() from cause
    except TimedOut as exc:
        return exc


class FailingBot:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (flood(3), RetryLater),
        (Forbidden("Forbidden: bot was blocked by the user"), Blocked),
        (Forbidden("Forbidden: user is deactivated"), Blocked),
        (BadRequest("Bad Request: chat not found"), Blocked),
        (BadRequest("Bad Request: message is too long"), Rejected),
        (timed_out(httpx.ReadTimeout("read")), OutcomeUnknown),
        (timed_out(httpx.ConnectTimeout("connect")), Transient),
        (NetworkError("httpx.ConnectError: refused"), Transient),
    ],
)
async def test_failures_become_outcomes(error: Exception, outcome: type[SendError]) -> None:
    sender = TelegramSender(FailingBot(error))  # type: ignore[arg-type]
    with pytest.raises(outcome) as info:
        await sender.send(OutgoingMessage(chat_id=1, text="x"))
    if isinstance(info.value, RetryLater):
        assert info.value.seconds == 3


async def test_messages_buttons_and_documents_are_sent_as_stored(tmp_path: Path) -> None:
    request = RecordingRequest()
    bot = Bot(TOKEN, request=request, get_updates_request=request)
    await bot.initialize()
    sender = TelegramSender(bot)
    buttons = [[{"text": "Реєстрація", "url": "https://example.org/forum"}]]
    await sender.send(OutgoingMessage(chat_id=7, text="<b>Форум</b>", buttons=buttons))
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n")
    await sender.send(
        OutgoingMessage(chat_id=7, text="Звіт", document_path=str(report), document_name="r.csv")
    )
    [message] = request.of("sendMessage")
    assert message.params["parse_mode"] == "HTML" and message.params["text"] == "<b>Форум</b>"
    assert message.params["reply_markup"]["inline_keyboard"][0][0]["url"].endswith("/forum")
    [document] = request.of("sendDocument")
    assert document.params["caption"] == "Звіт"
    report.unlink()
    with pytest.raises(Rejected):
        await sender.send(
            OutgoingMessage(chat_id=7, text="Звіт", document_path=str(report), document_name="r")
        )
    await bot.shutdown()
